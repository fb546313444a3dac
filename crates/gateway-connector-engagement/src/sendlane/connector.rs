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

/// The table's list: its `list_id`, else the list named as the table (among the first
/// [`LIST_PAGES`] pages of lists).
async fn list_id(client: &Client, params: &SendlaneTable, table: &Table) -> Result<i64, ConnectorError> {
    if let Some(id) = params.list_id {
        return Ok(id);
    }
    for page in 1..=LIST_PAGES {
        let (lists, more) = client.lists(100, page).await?;
        if let Some((id, _)) = lists.into_iter().find(|(_, name)| name == table.name.as_str()) {
            return Ok(id);
        }
        if !more {
            break;
        }
    }
    Err(ConnectorError::new(
        ErrorKind::ResourceNotFound,
        format!("Sendlane has no list named '{}': give connection_table_params.list_id", table.name),
    ))
}

#[async_trait::async_trait]
impl Provider for SendlaneConnector {
    type Credentials = SendlaneCredentials;
    type Params = SendlaneTable;
    const KIND: ConnectionKind = ConnectionKind::Sendlane;
    const RESOURCES: &'static [Resource] = config::RESOURCES;
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

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
        let list_id = list_id(&client, params, table).await?;
        let contacts = client.contacts(list_id, sample_rows).await?;
        let records = contacts.into_iter().filter_map(|c| c.as_object().cloned()).take(sample_rows);
        let (columns, rows) = gateway_formats::records_sample(records);
        let mut detected = JsonObject::new();
        detected.insert("list_id".into(), list_id.into());
        let warnings = if rows.is_empty() { vec![format!("list {list_id} has no contacts yet")] } else { Vec::new() };
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings, files: None, modified: None })
    }

    /// A list's contacts page by page (100 a page, the next while `links.next` names one),
    /// paced within the 240 requests a minute Sendlane allows a token.
    async fn read_pages(
        &self,
        c: &SendlaneCredentials,
        params: &SendlaneTable,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let client = self.client(c);
        let mut pacer = gateway_connector::paging::Pacer::per_minute(240);
        let list = pacer.call(|| list_id(&client, params, table)).await?;
        let mut read = 0u64;
        for page in 1u32.. {
            let (contacts, more) = pacer.call(|| client.contacts_page(list, page)).await?;
            let rows: Vec<JsonObject> = contacts.into_iter().filter_map(|c| c.as_object().cloned()).collect();
            let rows = rows.into_iter().map(gateway_formats::record_row).collect();
            if gateway_connector::paging::deliver(rows, more, &mut read, max_rows, sink)? {
                return Ok(true);
            }
            if !more {
                break;
            }
        }
        Ok(false)
    }
}
