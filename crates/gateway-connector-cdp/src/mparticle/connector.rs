//! The mParticle connector. The Events API is POST-only (every call ingests data), so the
//! server-to-server key and secret cannot be checked without sending an event: the step is
//! skipped and the connection stays `unverified`, whatever else passes. With Platform API
//! credentials and a workspace it makes a real read-only check of those: the token, then the
//! workspace's data plans (Data Planning is a product of its own: credentials without it are
//! valid, and told so). Tables are attributes and events the platform sends.

use gateway_connector::{
    ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step, Typed,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};

use super::client::Client;
use super::config::{self, MParticleCredentials, MParticleTable};
use crate::names;

const EVENTS_UNCHECKED: &str = "mParticle's Events API is POST-only: the server-to-server key and secret cannot be checked without sending an event";

#[derive(Debug)]
pub struct MParticleConnector {
    outbound: OutboundClient,
}

impl MParticleConnector {
    pub fn new(outbound: OutboundClient) -> Typed<MParticleConnector> {
        Typed::new(MParticleConnector { outbound })
    }

    /// The token step, then the data-plans step; a warning when no platform credentials are given.
    async fn platform_check(&self, c: &MParticleCredentials, check: &mut CredentialCheck) {
        let (Some(id), Some(secret), Some(workspace)) = (&c.client_id, &c.client_secret, &c.workspace_id) else {
            check.steps.push(Step::skipped("platform_token", "no client_id, client_secret and workspace_id given"));
            check.warnings.push(format!(
                "{EVENTS_UNCHECKED}; give Platform API client_id, client_secret and workspace_id for a read-only check"
            ));
            return;
        };
        let client = Client::new(&self.outbound);
        let token = match client.token(id, secret.expose()).await {
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
            // The credentials are good; the workspace's plan or role lacks Data Planning.
            Err(e) if e.kind == ErrorKind::Forbidden => {
                check.steps.push(Step::skipped(
                    "list_data_plans",
                    "the token may not read data plans (no Data Planning access): the workspace could not be read",
                ));
                check.warnings.push(format!(
                    "the Platform API credentials are valid but lack Data Planning access on workspace {workspace}: give them a role with Data Planning to check the workspace"
                ));
            }
            Err(e) => check.steps.push(Step::failed("list_data_plans", e.kind, e.message)),
        }
        check.warnings.push(EVENTS_UNCHECKED.into());
    }
}

fn target(params: &MParticleTable, table: &Table) -> Result<(&'static str, String), Problem> {
    names::target(table, "attribute", params.attribute.as_deref(), params.event.as_deref())
}

#[async_trait::async_trait]
impl Provider for MParticleConnector {
    type Credentials = MParticleCredentials;
    type Params = MParticleTable;
    const KIND: ConnectionKind = ConnectionKind::MParticle;
    const RESOURCES: &'static [Resource] = names::RESOURCES;

    fn normalize(&self, c: JsonObject) -> Result<JsonObject, Problem> {
        let keys = ["client_id", "client_secret", "workspace_id"];
        let given = keys.iter().filter(|k| c.get(**k).is_some_and(|v| v.is_string())).count();
        if given != 0 && given != 3 {
            let missing = keys.into_iter().find(|k| !c.get(*k).is_some_and(|v| v.is_string())).unwrap_or("client_id");
            return Err(Problem::wrong_field(
                format!("credentials.{missing}"),
                "the Platform API check needs client_id, client_secret and workspace_id together",
            ));
        }
        Ok(c)
    }

    fn check_params(&self, params: &MParticleTable, table: &Table) -> Result<(), Problem> {
        target(params, table).map(|_| ())
    }

    async fn test(&self, c: &MParticleCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        check.steps.push(Step::skipped("events_api", EVENTS_UNCHECKED));
        self.platform_check(c, &mut check).await;
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &MParticleCredentials,
        params: &MParticleTable,
        table: &Table,
        _sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let (key, name) =
            target(params, table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        let mut detected = JsonObject::new();
        detected.insert(key.into(), name.clone().into());
        Ok(Inspection {
            detected,
            warnings: vec![format!(
                "recommendations will be sent to {} as '{name}'; {EVENTS_UNCHECKED}",
                config::events_host(&c.pod)
            )],
            ..Inspection::default()
        })
    }
}
