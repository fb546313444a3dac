//! Connections: list, get, put, delete, test credentials, credential and table specs.

use gateway_connector::outbound::check_host_fields;
use gateway_connector::{CredentialCheck, ErrorKind, looks_secret};
use gateway_domain::{
    Actor, Connection, ConnectionKind, ConnectionPut, ConnectionStatus, ConnectionView, Credentials, CredentialsTest,
    OrganizationId, Problem, Role, TableStatus,
};
use gateway_store::ConnectionDeletion;
use serde_json::Value;

use crate::{Gateway, ProviderStep, connection_not_found};

/// Why a credential test failed: the problem answered, the provider's failure kind (`None`:
/// the credentials were refused before any call) and how long the provider asked to wait.
#[derive(Debug)]
pub(crate) struct CredentialFailure {
    pub problem: Problem,
    pub kind: Option<ErrorKind>,
    pub retry_after: Option<std::time::Duration>,
    /// The steps, when the connector answered them (a step failed or was forbidden).
    pub check: Option<CredentialCheck>,
}

/// The connection status a credential test's outcome means: `available` only when every
/// step passed (everything the connection is used for was checked); a step the provider
/// offers no read-only call for makes it `unverified`; a missing permission makes it
/// `unverified` when something else works, `wrong_credentials` when nothing does.
pub(crate) fn connection_status(result: &Result<CredentialCheck, CredentialFailure>) -> ConnectionStatus {
    use gateway_connector::StepOutcome;
    match result {
        Ok(check) if check.verified() => ConnectionStatus::Available,
        Ok(_) => ConnectionStatus::Unverified,
        Err(CredentialFailure { check: Some(check), .. })
            if !check.steps.iter().any(|s| s.outcome == StepOutcome::Failed) =>
        {
            if check.steps.iter().any(|s| s.outcome == StepOutcome::Passed) {
                ConnectionStatus::Unverified
            } else {
                ConnectionStatus::WrongCredentials
            }
        }
        Err(f) => match f.kind.map(gateway_preview::status_for) {
            None | Some(TableStatus::WrongSpecification) => ConnectionStatus::WrongSpecification,
            Some(TableStatus::WrongCredentials) => ConnectionStatus::WrongCredentials,
            Some(TableStatus::ResourceNotFound) => ConnectionStatus::ResourceNotFound,
            Some(_) => ConnectionStatus::UnknownError,
        },
    }
}

/// `given` with every masked value put back from `stored` and checked against the
/// connector's spec. A masked secret is put back only while the fields that decide where it
/// is sent (`FieldSpec::routes`: a region, a shop, an endpoint) keep their stored values: a
/// secret never follows a new host unless it is sent again with it.
fn restore(
    connector: Option<&dyn gateway_connector::Connector>,
    given: Credentials,
    stored: Option<&Credentials>,
) -> Result<Credentials, Problem> {
    let masked = given.expose().iter().find(|(_, v)| v.as_str() == Some(gateway_domain::MASK)).map(|(k, _)| k.clone());
    let restored = given.unmask(stored)?;
    let Some(c) = connector else { return Ok(restored) };
    let validated = Credentials::new(c.validate_credentials(restored.expose())?);
    if let (Some(secret), Some(stored)) = (masked, stored) {
        let before = c.validate_credentials(stored.expose()).unwrap_or_else(|_| stored.expose().clone());
        if let Some(moved) = c
            .credential_spec()
            .fields
            .iter()
            .filter(|f| f.routes)
            .find(|f| validated.expose().get(f.name) != before.get(f.name))
        {
            return Err(Problem::wrong_field(
                format!("credentials.{secret}"),
                format!(
                    "'{}' changed: send '{secret}' again with it (a stored secret is kept only for where it was given for)",
                    moved.name
                ),
            ));
        }
    }
    Ok(validated)
}

/// LOCAL is the platform's own storage: it has no connection to get, put or test.
pub(crate) fn connectable(kind: ConnectionKind) -> Result<(), Problem> {
    if kind.has_connection() {
        return Ok(());
    }
    Err(Problem::wrong_field(
        "connection",
        format!(
            "connection {kind} is not allowed here: it is the platform's own storage and has no credentials; its tables live under /connections/{kind}/tables/"
        ),
    ))
}

impl Gateway {
    /// A connection as `role` may see it: secrets masked for every role but backend (and for
    /// backend too under `GATEWAY_BACKEND_SECRETS=masked`), by the connector's spec (by their
    /// names for a kind without a connector).
    pub fn connection_view(&self, role: Role, conn: Connection) -> ConnectionView {
        let credentials = if role.sees_secrets() && !self.settings().backend_secrets_masked {
            conn.credentials.expose().clone()
        } else {
            let spec = self.registry().get(conn.kind).map(|c| c.credential_spec().clone());
            conn.credentials.masked(|f| spec.as_ref().map_or_else(|| looks_secret(f), |s| s.is_secret(f)))
        };
        ConnectionView {
            connection: conn.kind,
            credentials,
            metadata: conn.metadata,
            status: conn.status,
            checked_timestamp: conn.checked_timestamp,
            warnings: Vec::new(),
        }
    }

    pub async fn list_connections(&self, org: &OrganizationId, role: Role) -> Result<Vec<ConnectionView>, Problem> {
        let o = org.clone();
        let connections = self.db(move |s| s.list_connections(&o)).await?;
        Ok(connections.into_iter().map(|c| self.connection_view(role, c)).collect())
    }

    pub async fn get_connection(
        &self,
        org: &OrganizationId,
        role: Role,
        kind: ConnectionKind,
    ) -> Result<ConnectionView, Problem> {
        connectable(kind)?;
        let o = org.clone();
        let conn = self.db(move |s| s.get_connection(&o, kind)).await?.ok_or_else(|| connection_not_found(kind))?;
        Ok(self.connection_view(role, conn))
    }

    /// Creates or replaces a connection: the body parsed, masked values restored from the
    /// stored ones, the credentials checked against the connector's spec (host fields
    /// resolved), then stored sealed. Warnings say what could not be checked. The audit trail
    /// records `actor` and the names of the fields that changed; the answer is masked for
    /// the actor's role (for the gateway itself, as for a manager).
    pub async fn put_connection(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        body: Value,
    ) -> Result<ConnectionView, Problem> {
        let role = actor.role.unwrap_or(Role::Manager);
        connectable(kind)?;
        let put = ConnectionPut::from_json(body, kind)?;
        let connector = self.registry().get(kind).cloned();
        // Host fields are looked up: counted like a test.
        let resolves = connector.as_ref().is_some_and(|c| {
            !self.settings().outbound_allow_private
                && c.credential_spec()
                    .fields
                    .iter()
                    .any(|f| f.host.is_some() && put.credentials.expose().get(f.name).is_some_and(|v| v.is_string()))
        });
        let _admitted = if resolves { Some(self.admit(org).await?) } else { None };
        let mut warnings = match &connector {
            // Names in host fields must not resolve inside (a mask stands for a value already checked).
            Some(c) => {
                check_host_fields(c.credential_spec(), put.credentials.expose(), self.settings().outbound_allow_private)
                    .await?
            }
            None => vec![format!(
                "the gateway has no {kind} connector yet: the credentials are stored unchecked and cannot be tested"
            )],
        };
        let (o, a) = (org.clone(), actor.clone());
        let saved = self
            .db(move |s| {
                s.put_connection(&o, kind, &a, |stored| {
                    let credentials = restore(connector.as_deref(), put.credentials, stored.map(|c| &c.credentials))?;
                    Ok((credentials, put.metadata.unwrap_or_default()))
                })
            })
            .await?;
        tracing::info!(connection = %kind, "connection stored");
        let mut answer = self.connection_view(role, saved);
        answer.warnings.append(&mut warnings);
        Ok(answer)
    }

    /// Deletes a connection; with `force`, its tables too. Answers how many tables went.
    pub async fn delete_connection(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        force: bool,
    ) -> Result<u64, Problem> {
        connectable(kind)?;
        let (o, a) = (org.clone(), actor.clone());
        match self.db(move |s| s.delete_connection(&o, kind, force, &a)).await? {
            ConnectionDeletion::Deleted { tables } => {
                tracing::info!(connection = %kind, tables, "connection deleted");
                Ok(tables)
            }
            ConnectionDeletion::NotFound => Err(connection_not_found(kind)),
            ConnectionDeletion::HasTables(n) => Err(Problem::wrong_field(
                "connection",
                format!(
                    "the {kind} connection still has {n} table{}: delete {} first, or call DELETE /connections/{kind}/?force=true to delete the connection and its tables together",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" },
                ),
            )
            .with("tables", n)),
        }
    }

    /// Tests credentials live: those in the body (masked values restored from the stored
    /// connection), else the stored ones, whose outcome is then recorded as the connection's
    /// `status` (webhooks hear of a change). A failed step is a WRONG_DATA_TYPE naming the
    /// step, with `reason` (the failure's kind), every step and the warnings in `error_data`.
    pub async fn test_credentials(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        body: Value,
    ) -> Result<CredentialCheck, Problem> {
        connectable(kind)?;
        let request = CredentialsTest::from_json(body)?;
        self.connector(kind)?;
        let _admitted = self.admit(org).await?;
        let o = org.clone();
        let stored = self.db(move |s| s.get_connection(&o, kind)).await?;
        let record = request.credentials.is_none();
        let credentials = match request.credentials {
            Some(given) => {
                restore(self.registry().get(kind).map(|c| c.as_ref()), given, stored.as_ref().map(|c| &c.credentials))?
            }
            None => stored.ok_or_else(|| connection_not_found(kind))?.credentials,
        };
        let result = self.run_credential_test(org, kind, &credentials).await;
        if record {
            let status = connection_status(&result);
            let (o, a) = (org.clone(), actor.clone());
            self.db(move |s| s.set_connection_status(&o, kind, &credentials, status, &a)).await?;
        }
        result.map_err(|f| f.problem)
    }

    /// One live test of `credentials`, its failure kept apart for callers that record it.
    pub(crate) async fn run_credential_test(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        credentials: &Credentials,
    ) -> Result<CredentialCheck, CredentialFailure> {
        let refused = |problem: Problem| CredentialFailure { problem, kind: None, retry_after: None, check: None };
        let connector = self.connector(kind).map_err(refused)?;
        let credentials = Credentials::new(connector.validate_credentials(credentials.expose()).map_err(refused)?);
        let mut host_warnings = check_host_fields(
            connector.credential_spec(),
            credentials.expose(),
            self.settings().outbound_allow_private,
        )
        .await
        .map_err(refused)?;
        let scrub = |t: &str| crate::scrub(t, connector.as_ref(), Some(&credentials));
        let failed = |c: &CredentialCheck| c.failure().map(|s| s.error.unwrap_or(ErrorKind::Unknown));
        // What the connection is used for: the test checks what its tables need.
        let o = org.clone();
        let tables = match self.db(move |s| s.list_tables(&o, kind)).await {
            Ok(mut t) => {
                t.truncate(gateway_connector::MAX_TESTED_TABLES);
                t
            }
            Err(problem) => return Err(CredentialFailure { problem, kind: None, retry_after: None, check: None }),
        };
        let test = connector.test_credentials(&credentials, &tables);
        let mut check = self.bounded(kind, ProviderStep::TestCredentials, test, failed).await.map_err(|mut e| {
            e.message = scrub(&e.message);
            CredentialFailure {
                problem: crate::connector_problem(&e),
                kind: Some(e.kind),
                retry_after: e.retry_after,
                check: None,
            }
        })?;
        for step in &mut check.steps {
            step.message = scrub(&step.message);
        }
        for w in &mut check.warnings {
            *w = scrub(w);
        }
        check.warnings.append(&mut host_warnings);
        if let Some(w) = connector.api_version().and_then(|v| v.warning(kind.as_str(), gateway_domain::now_seconds())) {
            check.warnings.push(w);
        }
        if let Some(step) = check.failure() {
            let reason = step.error.unwrap_or(ErrorKind::Unknown);
            tracing::info!(connection = %kind, step = %step.name, %reason, "credential test failed");
            let problem = Problem::wrong_data(format!("{}: {}", step.name, step.message))
                .with("reason", reason.as_str())
                .with("steps", serde_json::to_value(&check.steps).unwrap_or_default())
                .with("warnings", check.warnings.clone());
            return Err(CredentialFailure { problem, kind: Some(reason), retry_after: None, check: Some(check) });
        }
        Ok(check)
    }

    /// The credentials a kind takes, as JSON Schema, with its tables' `connection_table_params`
    /// under `$defs.connection_table_params`.
    pub fn connection_spec(&self, kind: ConnectionKind) -> Result<Value, Problem> {
        connectable(kind)?;
        let connector = self.connector(kind)?;
        let mut schema = connector.credential_spec().json_schema();
        schema["$defs"] = serde_json::json!({"connection_table_params": connector.table_spec().json_schema()});
        Ok(schema)
    }
}
