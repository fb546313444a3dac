//! The Segment connector. Segment's tracking API accepts any write key (it validates none), and
//! its settings CDN knows only browser and mobile sources' keys: a 404 there proves nothing of
//! a server-side source (HTTP API, Node, Python). So the write key is confirmed through the
//! Public API when a token is given (`GET /sources`, the key among the sources' `writeKeys`,
//! which a token with Source Admin sees), else through the CDN, whose answer is trusted when it
//! knows the key and reported as unverifiable when it does not. Tables are traits and events
//! the platform sends (destinations).

use gateway_connector::api::JsonAt;
use gateway_connector::{
    ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step, Typed,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};

use super::client::Client;
use super::config::{SegmentCredentials, SegmentTable};
use crate::names;

const SERVER_KEYS: &str = "Segment's settings CDN knows only browser and mobile sources' write keys: a server-side source's key (HTTP API, Node, Python...) cannot be verified there; give a Public API token with Source Admin to confirm it";

#[derive(Debug)]
pub struct SegmentConnector {
    outbound: OutboundClient,
}

impl SegmentConnector {
    pub fn new(outbound: OutboundClient) -> Typed<SegmentConnector> {
        Typed::new(SegmentConnector { outbound })
    }

    /// The write key's step: confirmed, refused, or unverifiable (with why).
    async fn write_key_step(&self, c: &SegmentCredentials, client: &Client, check: &mut CredentialCheck) {
        if let Some(token) = &c.public_api_token {
            match client.source_write_keys(token.expose()).await {
                Ok(Some(keys)) if keys.iter().any(|k| k == &c.write_key) => check
                    .steps
                    .push(Step::passed("write_key", "the write key is one of the workspace's sources' (GET /sources)")),
                Ok(Some(_)) => check.steps.push(Step::failed(
                    "write_key",
                    ErrorKind::WrongCredentials,
                    "no source of the token's workspace has this write key: check write_key (or the token's workspace)",
                )),
                Ok(None) => {
                    check.steps.push(Step::skipped(
                        "write_key",
                        "the token sees no source's write keys (it lacks Source Admin), or the workspace has more sources than the test reads (1000): the write key could not be confirmed",
                    ));
                    check
                        .warnings
                        .push("give the Public API token the Source Admin permission to confirm the write key".into());
                }
                Err(e) => check.steps.push(Step::failed("write_key", e.kind, e.message)),
            }
            return;
        }
        match client.settings(&c.write_key).await {
            Ok(_) => check.steps.push(Step::passed(
                "write_key",
                "Segment knows the write key (its source settings were fetched from the CDN)",
            )),
            Err(e) if e.kind == ErrorKind::WrongCredentials => {
                check.steps.push(Step::skipped("write_key", SERVER_KEYS));
                check.warnings.push(SERVER_KEYS.into());
            }
            Err(e) => check.steps.push(Step::failed("write_key", e.kind, e.message)),
        }
    }
}

fn target(params: &SegmentTable, table: &Table) -> Result<(&'static str, String), Problem> {
    names::target(table, "trait", params.r#trait.as_deref(), params.event.as_deref())
}

#[async_trait::async_trait]
impl Provider for SegmentConnector {
    type Credentials = SegmentCredentials;
    type Params = SegmentTable;
    const KIND: ConnectionKind = ConnectionKind::Segment;
    const RESOURCES: &'static [Resource] = names::RESOURCES;

    fn check_params(&self, params: &SegmentTable, table: &Table) -> Result<(), Problem> {
        target(params, table).map(|_| ())
    }

    async fn test(&self, c: &SegmentCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let client = Client::new(&self.outbound, &c.region);
        let mut check = CredentialCheck::default();
        if let Some(token) = &c.public_api_token {
            let ok = check.run("public_api_token", client.workspace(token.expose()).await, |ws| {
                format!(
                    "the token belongs to workspace {} (GET /)",
                    ws.at("/name").as_str().or_else(|| ws.at("/slug").as_str()).unwrap_or("?")
                )
            });
            if !ok {
                return Ok(check);
            }
        }
        self.write_key_step(c, &client, &mut check).await;
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &SegmentCredentials,
        params: &SegmentTable,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let (key, name) =
            target(params, table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        // The write key is what sends: confirmed again where it can be, read-only.
        let mut check = CredentialCheck::default();
        self.write_key_step(c, &Client::new(&self.outbound, &c.region), &mut check).await;
        if let Some(step) = check.failure() {
            return Err(ConnectorError::new(step.error.unwrap_or(ErrorKind::Unknown), step.message.clone()));
        }
        let mut detected = JsonObject::new();
        detected.insert(key.into(), name.clone().into());
        let what = if key == "trait" { "trait" } else { "event" };
        let mut warnings = vec![format!(
            "recommendations will be sent as the {what} '{name}' with the source's write key; Segment accepts any write without a read-only check of its destinations"
        )];
        warnings.extend(check.warnings);
        Ok(Inspection { detected, warnings, ..Inspection::default() })
    }
}
