//! The mParticle connector. The Events API is POST-only (every call ingests data), so the
//! server-to-server key and secret cannot be checked without sending an event: the test says
//! so. With Platform API credentials and a workspace it makes a real read-only check, the
//! token step and the API step reported apart. Tables are attributes and events the platform
//! sends.

use gateway_connector::api::text;
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};

use super::client::Client;
use super::config;
use crate::names;

const EVENTS_UNCHECKED: &str = "mParticle's Events API is POST-only: the server-to-server key and secret cannot be checked without sending an event";

#[derive(Debug)]
pub struct MParticleConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl MParticleConnector {
    pub fn new(outbound: OutboundClient) -> MParticleConnector {
        MParticleConnector { spec: config::credential_spec(), tables: names::table_spec("attribute"), outbound }
    }

    /// The token step, then the data-plans step; a warning when no platform credentials are given.
    async fn platform_check(&self, c: &JsonObject, check: &mut CredentialCheck) {
        let (Some(id), Some(secret), Some(workspace)) =
            (text(c, "client_id"), text(c, "client_secret"), text(c, "workspace_id"))
        else {
            check.steps.push(Step::skipped("platform_token", "no client_id, client_secret and workspace_id given"));
            check.warnings.push(format!(
                "{EVENTS_UNCHECKED}; give Platform API client_id, client_secret and workspace_id for a read-only check"
            ));
            return;
        };
        let client = Client::new(&self.outbound);
        let token = match client.token(id, secret).await {
            Ok(t) => {
                check.steps.push(Step::passed(
                    "platform_token",
                    "the Platform API client credentials were exchanged for a token",
                ));
                t
            }
            Err(e) => {
                check.steps.push(Step::failed("platform_token", e.kind, e.message));
                check.steps.push(Step::skipped("list_data_plans", "not tried: no token"));
                return;
            }
        };
        match client.plans(&token.token, workspace).await {
            Ok(plans) => check.steps.push(Step::passed(
                "list_data_plans",
                format!("the token read workspace {workspace}'s data plans ({} found)", plans.len()),
            )),
            Err(e) => check.steps.push(Step::failed("list_data_plans", e.kind, e.message)),
        }
        check.warnings.push(EVENTS_UNCHECKED.into());
    }
}

#[async_trait::async_trait]
impl Connector for MParticleConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::MParticle
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        let c = self.spec.validate(credentials)?;
        let given = ["client_id", "client_secret", "workspace_id"].iter().filter(|k| text(&c, k).is_some()).count();
        if given != 0 && given != 3 {
            let missing = ["client_id", "client_secret", "workspace_id"]
                .into_iter()
                .find(|k| text(&c, k).is_none())
                .unwrap_or("client_id");
            return Err(Problem::wrong_field(
                format!("credentials.{missing}"),
                "the Platform API check needs client_id, client_secret and workspace_id together",
            ));
        }
        Ok(c)
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        names::target(table, "attribute").map(|_| ())
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        check.steps.push(Step::skipped("events_api", EVENTS_UNCHECKED));
        self.platform_check(credentials.expose(), &mut check).await;
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
        let (key, name) = names::target(table, "attribute")
            .map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        let pod = text(c, "pod").unwrap_or("US1");
        let mut detected = JsonObject::new();
        detected.insert(key.into(), name.clone().into());
        Ok(Inspection {
            detected,
            warnings: vec![format!(
                "recommendations will be sent to {} as '{name}'; {EVENTS_UNCHECKED}",
                config::events_host(pod)
            )],
            ..Inspection::default()
        })
    }
}
