//! The Movable Ink connector: credentials checked for their form; no provider call is made,
//! and the test says so instead of reporting them valid. Tables are destinations only.

use gateway_connector::{ConnectorError, CredentialCheck, Inspection, OutboundClient, Provider, Step, Typed};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};

use super::config::{self, MovableInkCredentials, MovableInkTable};

const NO_CHECK: &str = "Movable Ink offers no read-only verification: its collector only ingests events, so the credentials were checked for their form, not against Movable Ink";

#[derive(Debug)]
pub struct MovableInkConnector {
    outbound: OutboundClient,
}

impl MovableInkConnector {
    pub fn new(outbound: OutboundClient) -> Typed<MovableInkConnector> {
        Typed::new(MovableInkConnector { outbound })
    }
}

#[async_trait::async_trait]
impl Provider for MovableInkConnector {
    type Credentials = MovableInkCredentials;
    type Params = MovableInkTable;
    const KIND: ConnectionKind = ConnectionKind::MovableInk;
    const RESOURCES: &'static [Resource] = config::RESOURCES;

    /// An endpoint URL pasted whole is stored as its key and collector.
    fn normalize(&self, mut c: JsonObject) -> Result<JsonObject, Problem> {
        let parts = c.get("endpoint_key").and_then(|v| v.as_str()).and_then(config::endpoint_parts);
        if let Some((collector, key)) = parts.map(|(c, k)| (c, k.to_owned())) {
            c.insert("endpoint_key".into(), key.into());
            c.insert("collector".into(), collector.into());
        }
        Ok(c)
    }

    async fn test(&self, c: &MovableInkCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        // Where events will go, the key left out; never called.
        let url = super::client::endpoint(&self.outbound, &c.collector, "<endpoint_key>");
        Ok(CredentialCheck {
            steps: vec![Step::skipped("verify_credentials", NO_CHECK)],
            warnings: vec![format!("{NO_CHECK}; events will go to {url}")],
        })
    }

    async fn inspect(
        &self,
        _c: &MovableInkCredentials,
        params: &MovableInkTable,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let event = params.event.as_deref().unwrap_or(table.name.as_str());
        let mut detected = JsonObject::new();
        detected.insert("event".into(), event.into());
        Ok(Inspection {
            detected,
            warnings: vec![format!("recommendations will be sent as '{event}' events; {NO_CHECK}")],
            ..Inspection::default()
        })
    }
}
