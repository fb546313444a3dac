//! The Sendlane connector: a token proven by `GET /v2/lists?limit=1`; lists as user sources
//! (a page of contacts).

use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use serde_json::Value;

use super::client::Client;
use super::config;
use gateway_connector::api::text;

/// Pages of lists read at most to find a list by name.
const LIST_PAGES: u32 = 5;

#[derive(Debug)]
pub struct SendlaneConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl SendlaneConnector {
    pub fn new(outbound: OutboundClient) -> SendlaneConnector {
        SendlaneConnector { spec: config::credential_spec(), tables: config::table_spec(), outbound }
    }

    fn client(&self, c: &JsonObject) -> Result<Client, ConnectorError> {
        let token = text(c, "api_token")
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'api_token' is missing"))?;
        Ok(Client::new(&self.outbound, token))
    }
}

#[async_trait::async_trait]
impl Connector for SendlaneConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Sendlane
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        match table.connection_table_params.get("list_id").and_then(Value::as_i64) {
            Some(id) if id <= 0 => {
                Err(Problem::wrong_field("connection_table_params.list_id", "'list_id' must be a positive list id"))
            }
            _ => Ok(()),
        }
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let client = self.client(credentials.expose())?;
        let mut check = CredentialCheck::default();
        match client.lists(1, 1).await {
            Ok(_) => check
                .steps
                .push(Step::passed("list_lists", "the token listed the account's lists (GET /v2/lists?limit=1)")),
            Err(e) => check.steps.push(Step::failed("list_lists", e.kind, e.message)),
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let credentials =
            credentials.ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let client = self.client(credentials.expose())?;
        let list_id = match table.connection_table_params.get("list_id").and_then(Value::as_i64) {
            Some(id) => id,
            None => {
                let mut found = None;
                for page in 1..=LIST_PAGES {
                    let (lists, more) = client.lists(100, page).await?;
                    found = lists.into_iter().find(|(_, name)| name == table.name.as_str()).map(|(id, _)| id);
                    if found.is_some() || !more {
                        break;
                    }
                }
                found.ok_or_else(|| {
                    ConnectorError::new(
                        ErrorKind::ResourceNotFound,
                        format!("Sendlane has no list named '{}': give connection_table_params.list_id", table.name),
                    )
                })?
            }
        };
        let contacts = client.contacts(list_id, sample_rows).await?;
        let records = contacts.into_iter().filter_map(|c| c.as_object().cloned()).take(sample_rows);
        let (columns, rows) = gateway_formats::records_sample(records);
        let mut detected = JsonObject::new();
        detected.insert("list_id".into(), list_id.into());
        let warnings = if rows.is_empty() { vec![format!("list {list_id} has no contacts yet")] } else { Vec::new() };
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
    }
}
