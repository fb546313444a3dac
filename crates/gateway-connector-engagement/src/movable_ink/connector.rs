//! The Movable Ink connector: credentials checked for their form; no provider call is made,
//! and the test says so instead of reporting them valid. Tables are destinations only.

use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Table};
use serde_json::Value;

use super::config;
use gateway_connector::api::text;

const NO_CHECK: &str = "Movable Ink offers no read-only verification: its collector only ingests events, so the credentials were checked for their form, not against Movable Ink";

#[derive(Debug)]
pub struct MovableInkConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl MovableInkConnector {
    pub fn new(outbound: OutboundClient) -> MovableInkConnector {
        MovableInkConnector { spec: config::credential_spec(), tables: config::table_spec(), outbound }
    }
}

#[async_trait::async_trait]
impl Connector for MovableInkConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::MovableInk
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let c = credentials.expose();
        let collector = text(c, "collector").unwrap_or(config::DEFAULT_COLLECTOR);
        // Where events will go, the key left out; never called.
        let url = super::client::endpoint(&self.outbound, collector, "<endpoint_key>");
        Ok(CredentialCheck {
            steps: vec![Step::skipped("verify_credentials", NO_CHECK)],
            warnings: vec![format!("{NO_CHECK}; events will go to {url}")],
        })
    }

    async fn inspect_table(
        &self,
        _credentials: Option<&Credentials>,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let event = table.connection_table_params.get("event").and_then(Value::as_str).unwrap_or(table.name.as_str());
        let mut detected = JsonObject::new();
        detected.insert("event".into(), event.into());
        Ok(Inspection {
            detected,
            warnings: vec![format!("recommendations will be sent as '{event}' events; {NO_CHECK}")],
            ..Inspection::default()
        })
    }
}
