//! The Segment connector: the write key through its settings, the optional Public API token
//! through `GET /`; tables are traits and events the platform sends (destinations).

use gateway_connector::api::JsonAt;
use gateway_connector::api::text;
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};

use super::client::Client;
use super::config;
use crate::names;

#[derive(Debug)]
pub struct SegmentConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl SegmentConnector {
    pub fn new(outbound: OutboundClient) -> SegmentConnector {
        SegmentConnector { spec: config::credential_spec(), tables: names::table_spec("trait"), outbound }
    }
}

fn write_key(c: &JsonObject) -> Result<&str, ConnectorError> {
    text(c, "write_key").ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'write_key' is missing"))
}

#[async_trait::async_trait]
impl Connector for SegmentConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Segment
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        names::target(table, "trait").map(|_| ())
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let c = credentials.expose();
        let client = Client::new(&self.outbound, text(c, "region").unwrap_or("us"));
        let mut check = CredentialCheck::default();
        match client.settings(write_key(c)?).await {
            Ok(_) => check.steps.push(Step::passed(
                "write_key_settings",
                "Segment knows the write key (its source settings were fetched)",
            )),
            Err(e) => check.steps.push(Step::failed("write_key_settings", e.kind, e.message)),
        }
        match text(c, "public_api_token") {
            Some(token) => match client.workspace(token).await {
                Ok(ws) => check.steps.push(Step::passed(
                    "public_api_token",
                    format!(
                        "the token belongs to workspace {} (GET /)",
                        ws.at("/name").as_str().or_else(|| ws.at("/slug").as_str()).unwrap_or("?")
                    ),
                )),
                Err(e) => check.steps.push(Step::failed("public_api_token", e.kind, e.message)),
            },
            None => check.steps.push(Step::skipped("public_api_token", "no public_api_token given")),
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let c = credentials
            .map(Credentials::expose)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let (key, name) =
            names::target(table, "trait").map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        // The write key is what sends: proven again, read-only.
        Client::new(&self.outbound, text(c, "region").unwrap_or("us")).settings(write_key(c)?).await?;
        let mut detected = JsonObject::new();
        detected.insert(key.into(), name.clone().into());
        let what = if key == "trait" { "trait" } else { "event" };
        Ok(Inspection {
            detected,
            warnings: vec![format!(
                "recommendations will be sent as the {what} '{name}' with the source's write key; Segment accepts any write without a read-only check of its destinations"
            )],
            ..Inspection::default()
        })
    }
}
