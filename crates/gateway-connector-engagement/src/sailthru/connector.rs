//! The Sailthru connector: a key and secret proven by a signed `GET /list`; lists as user_id
//! sources (Sailthru offers no read-only way to sample a list's members: only their count).

use gateway_connector::api::JsonAt;
use gateway_connector::{
    Column, ColumnType, Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Table};
use serde_json::{Value, json};

use super::client::Client;
use super::config;
use gateway_connector::api::text;

#[derive(Debug)]
pub struct SailthruConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl SailthruConnector {
    pub fn new(outbound: OutboundClient) -> SailthruConnector {
        SailthruConnector { spec: config::credential_spec(), tables: config::table_spec(), outbound }
    }

    fn client(&self, c: &JsonObject) -> Result<Client, ConnectorError> {
        let missing = |f: &str| ConnectorError::new(ErrorKind::WrongCredentials, format!("'{f}' is missing"));
        Ok(Client::new(
            &self.outbound,
            text(c, "api_key").ok_or_else(|| missing("api_key"))?,
            text(c, "api_secret").ok_or_else(|| missing("api_secret"))?,
        ))
    }
}

#[async_trait::async_trait]
impl Connector for SailthruConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Sailthru
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let client = self.client(credentials.expose())?;
        let mut check = CredentialCheck::default();
        match client.get("list", &json!({}), "lists").await {
            Ok(body) => check.steps.push(Step::passed(
                "list_lists",
                format!(
                    "the signed request was accepted ({} lists, GET /list)",
                    body.at("/lists").as_array().map_or(0, Vec::len)
                ),
            )),
            Err(e) => check.steps.push(Step::failed("list_lists", e.kind, e.message)),
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let credentials =
            credentials.ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let client = self.client(credentials.expose())?;
        let name = table.connection_table_params.get("list").and_then(Value::as_str).unwrap_or(table.name.as_str());
        let list = client.get("list", &json!({"list": name}), &format!("list '{name}'")).await?;
        let count = list.at("/count").as_i64().or_else(|| list.at("/email_count").as_i64());
        let mut detected = JsonObject::new();
        detected.insert("list".into(), name.into());
        Ok(Inspection {
            detected,
            columns: vec![Column { name: "email".into(), ty: ColumnType::String }],
            rows: Vec::new(),
            writable: None,
            bytes_read: 0,
            warnings: vec![format!(
                "list '{name}' exists ({} members); Sailthru offers no read-only way to sample its members (only an export job), so the sample is empty",
                count.map_or_else(|| "?".to_owned(), |c| c.to_string())
            )],
        })
    }
}
