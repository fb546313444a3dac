//! The Sailthru connector: a key and secret proven by a signed `GET /list`; lists as user_id
//! sources (Sailthru offers no read-only way to sample a list's members: only their count).

use gateway_connector::api::JsonAt;
use gateway_connector::{Column, ColumnType, ConnectorError, CredentialCheck, Inspection, OutboundClient, Provider};
use gateway_domain::{ConnectionKind, JsonObject, Resource, Table};
use serde_json::json;

use super::client::Client;
use super::config::{self, SailthruCredentials, SailthruTable};

#[derive(Debug)]
pub struct SailthruConnector {
    outbound: OutboundClient,
}

impl SailthruConnector {
    pub fn new(outbound: OutboundClient) -> gateway_connector::Typed<SailthruConnector> {
        gateway_connector::Typed::new(SailthruConnector { outbound })
    }

    fn client(&self, c: &SailthruCredentials) -> Client {
        Client::new(&self.outbound, c.api_key.expose(), c.api_secret.expose())
    }
}

#[async_trait::async_trait]
impl Provider for SailthruConnector {
    type Credentials = SailthruCredentials;
    type Params = SailthruTable;
    const KIND: ConnectionKind = ConnectionKind::Sailthru;
    const RESOURCES: &'static [Resource] = config::RESOURCES;

    async fn test(&self, c: &SailthruCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        check.run("list_lists", self.client(c).get("list", &json!({}), "lists").await, |body| {
            format!(
                "the signed request was accepted ({} lists, GET /list)",
                body.at("/lists").as_array().map_or(0, Vec::len)
            )
        });
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &SailthruCredentials,
        params: &SailthruTable,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = self.client(c);
        let name = params.list.as_deref().unwrap_or(table.name.as_str());
        let list = client.get("list", &json!({"list": name}), &format!("list '{name}'")).await?;
        let count = list.at("/count").as_i64().or_else(|| list.at("/email_count").as_i64());
        let mut detected = JsonObject::new();
        detected.insert("list".into(), name.into());
        Ok(Inspection {
            files: None,
            modified: None,
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
