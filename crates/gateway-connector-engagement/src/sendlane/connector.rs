//! The Sendlane connector: a token proven by `GET /v2/lists?limit=1`; lists as user sources
//! (a page of contacts).

use gateway_connector::{ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};

use super::client::Client;
use super::config::{self, SendlaneCredentials, SendlaneTable};

/// Pages of lists read at most to find a list by name.
const LIST_PAGES: u32 = 5;

#[derive(Debug)]
pub struct SendlaneConnector {
    outbound: OutboundClient,
}

impl SendlaneConnector {
    pub fn new(outbound: OutboundClient) -> gateway_connector::Typed<SendlaneConnector> {
        gateway_connector::Typed::new(SendlaneConnector { outbound })
    }

    fn client(&self, c: &SendlaneCredentials) -> Client {
        Client::new(&self.outbound, c.api_token.expose())
    }
}

#[async_trait::async_trait]
impl Provider for SendlaneConnector {
    type Credentials = SendlaneCredentials;
    type Params = SendlaneTable;
    const KIND: ConnectionKind = ConnectionKind::Sendlane;
    const RESOURCES: &'static [Resource] = config::RESOURCES;

    fn check_params(&self, params: &SendlaneTable, _table: &Table) -> Result<(), Problem> {
        match params.list_id {
            Some(id) if id <= 0 => {
                Err(Problem::wrong_field("connection_table_params.list_id", "'list_id' must be a positive list id"))
            }
            _ => Ok(()),
        }
    }

    async fn test(&self, c: &SendlaneCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        check.run("list_lists", self.client(c).lists(1, 1).await, |_| {
            "the token listed the account's lists (GET /v2/lists?limit=1)".to_owned()
        });
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &SendlaneCredentials,
        params: &SendlaneTable,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = self.client(c);
        let list_id = match params.list_id {
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
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings, files: None, modified: None })
    }
}
