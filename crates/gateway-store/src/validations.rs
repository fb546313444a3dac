//! Whole-table validations: durable jobs in the database, claimed with leases like scheduled
//! checks (`queue`). One replica runs each; its progress writes renew the lease; a replica
//! that dies leaves a lease that expires for another to claim (the job starts again, at most
//! [`MAX_ATTEMPTS`] times). At most `per_org` of one organization's validations run at once,
//! over every replica. A finished validation is recorded in the journal (audit entry by
//! `system`, webhook event `table.validated`); a table's validations go with it.

use diesel::prelude::*;
use gateway_domain::{
    Actor, ConnectionKind, OrganizationId, Paging, TableName, ValidationProgress, ValidationReport, ValidationRequest,
    ValidationState, ValidationView, now_seconds, random_id,
};
use serde_json::Value;

use crate::StoreError;
use crate::db::{DbConnection, Store, write_transaction};
use crate::journal::{self, Change, Rules};
use crate::schema::validations as v;

/// Runs of one validation that may be interrupted (their replica gone) before it is failed.
pub const MAX_ATTEMPTS: i32 = 3;

/// A validation as a replica runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationJob {
    pub organization: OrganizationId,
    pub id: String,
    pub connection: ConnectionKind,
    pub table: TableName,
    pub max_errors: u32,
    pub max_rows: Option<u64>,
    /// Runs before this one (interrupted).
    pub attempts: i32,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded(ValidationReport),
    /// The contract's error body (`error_name`, `message`, `error_data`).
    Failed(Value),
}

/// What a validation was asked, stored as JSON (`max_errors` always set).
type Request = ValidationRequest;

type Row = (String, String, String, String, i64, Option<i64>, String, String, Option<String>, Option<String>);

fn view(row: Row) -> Result<ValidationView, StoreError> {
    let (id, connection, name, state, created, finished, request, progress, report, error) = row;
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("validation {id}: {what}: {e}"));
    let request: Request = serde_json::from_str(&request).map_err(|e| corrupt("request", e.to_string()))?;
    let progress: ValidationProgress =
        serde_json::from_str(&progress).map_err(|e| corrupt("progress", e.to_string()))?;
    let report = report
        .map(|r| serde_json::from_str::<ValidationReport>(&r))
        .transpose()
        .map_err(|e| corrupt("report", e.to_string()))?;
    let error =
        error.map(|e| serde_json::from_str::<Value>(&e)).transpose().map_err(|e| corrupt("error", e.to_string()))?;
    Ok(ValidationView {
        connection: connection.parse().map_err(|_| corrupt("connection", connection.clone()))?,
        table: TableName::parse(&name).map_err(|p| corrupt("table", p.message))?,
        state: state.parse().map_err(|_| corrupt("state", state.clone()))?,
        created_timestamp: created,
        finished_timestamp: finished,
        progress,
        max_errors: request.max_errors.unwrap_or(gateway_domain::DEFAULT_MAX_ERRORS),
        max_rows: request.max_rows,
        report,
        error,
        id,
    })
}

#[allow(clippy::type_complexity, reason = "diesel's tuple of selected columns")]
fn columns() -> (
    v::id,
    v::connection,
    v::name,
    v::state,
    v::created_at,
    v::finished_at,
    v::request,
    v::progress,
    v::report,
    v::error,
) {
    (
        v::id,
        v::connection,
        v::name,
        v::state,
        v::created_at,
        v::finished_at,
        v::request,
        v::progress,
        v::report,
        v::error,
    )
}

fn json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("validation: {e}")))
}

/// Starts a validation of a table, or answers the one queued or running for it (`false`:
/// not new). The caller has checked the table exists and is a source.
pub fn start(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    max_errors: u32,
    max_rows: Option<u64>,
) -> Result<(ValidationView, bool), StoreError> {
    write_transaction(conn, |conn| {
        let open = v::table
            .filter(v::organization.eq(org.as_str()))
            .filter(v::connection.eq(kind.as_str()))
            .filter(v::name.eq(name.as_str()))
            .filter(v::finished_at.is_null())
            .order(v::created_at.desc())
            .select(columns());
        // PostgreSQL: two starts at once take turns on the table's open rows (SQLite's
        // BEGIN IMMEDIATE already serialises them); an open row is answered, not doubled.
        let found: Option<Row> = match conn {
            DbConnection::Postgresql(pg) => {
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind::<diesel::sql_types::Text, _>(format!("validation\n{org}\n{kind}\n{name}"))
                    .execute(pg)?;
                open.first(pg).optional()?
            }
            DbConnection::Sqlite(lite) => open.first(lite).optional()?,
        };
        if let Some(row) = found {
            return Ok((view(row)?, false));
        }
        // Ids sort by creation: milliseconds first (12 hex digits), then 80 random bits.
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let id = format!("{millis:012x}{}", random_id().get(..20).unwrap_or_default());
        let now = now_seconds();
        diesel::insert_into(v::table)
            .values((
                v::organization.eq(org.as_str()),
                v::id.eq(&id),
                v::connection.eq(kind.as_str()),
                v::name.eq(name.as_str()),
                v::state.eq(ValidationState::Queued.as_str()),
                v::created_at.eq(now),
                v::due_at.eq(now),
                v::request.eq(json(&Request { max_errors: Some(max_errors), max_rows })?),
            ))
            .execute(conn)?;
        let row: Row =
            v::table.filter(v::organization.eq(org.as_str())).filter(v::id.eq(&id)).select(columns()).first(conn)?;
        Ok((view(row)?, true))
    })
}

/// One validation of a table.
pub fn get(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    id: &str,
) -> Result<Option<ValidationView>, StoreError> {
    let row: Option<Row> = v::table
        .filter(v::organization.eq(org.as_str()))
        .filter(v::id.eq(id))
        .filter(v::connection.eq(kind.as_str()))
        .filter(v::name.eq(name.as_str()))
        .select(columns())
        .first(conn)
        .optional()?;
    row.map(view).transpose()
}

/// A page of a table's validations, newest first (ids sort by creation), and whether more
/// follow.
pub fn page(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    paging: Paging,
) -> Result<(Vec<ValidationView>, bool), StoreError> {
    let amt = i64::from(paging.amt());
    let mut rows: Vec<Row> = v::table
        .filter(v::organization.eq(org.as_str()))
        .filter(v::connection.eq(kind.as_str()))
        .filter(v::name.eq(name.as_str()))
        .order(v::id.desc())
        .limit(amt + 1)
        .offset(paging.offset())
        .select(columns())
        .load(conn)?;
    let has_next = rows.len() as i64 > amt;
    rows.truncate(paging.amt() as usize);
    Ok((rows.into_iter().map(view).collect::<Result<_, _>>()?, has_next))
}

/// Cancels a validation that has not finished (its runner stops at its next progress
/// write). `None`: no such validation; `Some(false)`: it had already finished.
pub fn cancel(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    id: &str,
) -> Result<Option<bool>, StoreError> {
    write_transaction(conn, |conn| {
        let q = v::table
            .filter(v::organization.eq(org.as_str()))
            .filter(v::id.eq(id))
            .filter(v::connection.eq(kind.as_str()))
            .filter(v::name.eq(name.as_str()));
        let finished: Option<Option<i64>> = q.select(v::finished_at).first(conn).optional()?;
        match finished {
            None => Ok(None),
            Some(Some(_)) => Ok(Some(false)),
            Some(None) => {
                diesel::update(q.filter(v::finished_at.is_null()))
                    .set((
                        v::state.eq(ValidationState::Cancelled.as_str()),
                        v::finished_at.eq(Some(now_seconds())),
                        v::lease_owner.eq(None::<String>),
                        v::lease_until.eq(None::<i64>),
                    ))
                    .execute(conn)?;
                Ok(Some(true))
            }
        }
    })
}

/// The validations' queue: rows not finished, due when created.
const QUEUE: crate::queue::Queue = crate::queue::Queue {
    table: "validations",
    key: &["organization", "id"],
    due: "due_at",
    pending: "finished_at IS NULL",
    returning: "organization, id, connection, name, request, attempts",
};

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    organization: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    connection: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    request: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
}

/// Claims up to `limit` waiting validations for `owner` until `now + lease_secs`, fairly
/// across organizations, at most `per_org` of one organization's running at once. A claimed
/// row is `running`; one claimed [`MAX_ATTEMPTS`] times already (its replicas died) is
/// failed instead, with the journal's record.
pub fn claim(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    owner: &str,
    now: i64,
    lease_secs: i64,
    limit: i64,
    per_org: i64,
) -> Result<Vec<ValidationJob>, StoreError> {
    let waiting: i64 = v::table
        .filter(v::finished_at.is_null())
        .filter(v::due_at.le(now))
        .filter(v::lease_until.is_null().or(v::lease_until.lt(now)))
        .count()
        .get_result(conn)?;
    if waiting == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<Claimed> = write_transaction(conn, |conn| {
        let rows: Vec<Claimed> = QUEUE.claim(conn, now, per_org, limit, owner, now + lease_secs)?;
        for r in &rows {
            diesel::update(v::table.filter(v::organization.eq(&r.organization)).filter(v::id.eq(&r.id)))
                .set((
                    v::state.eq(ValidationState::Running.as_str()),
                    v::attempts.eq(v::attempts + 1),
                    v::progress.eq(json(&ValidationProgress::default())?),
                ))
                .execute(conn)?;
        }
        Ok(rows)
    })?;
    let mut jobs = Vec::new();
    for r in rows {
        let (Ok(organization), Ok(connection), Ok(table), Ok(request)) = (
            OrganizationId::parse(&r.organization),
            r.connection.parse::<ConnectionKind>(),
            TableName::parse(&r.name),
            serde_json::from_str::<Request>(&r.request),
        ) else {
            // A row this version cannot read stays leased and skipped, not retried in a loop.
            continue;
        };
        let job = ValidationJob {
            organization,
            id: r.id,
            connection,
            table,
            max_errors: request.max_errors.unwrap_or(gateway_domain::DEFAULT_MAX_ERRORS),
            max_rows: request.max_rows,
            attempts: r.attempts,
        };
        if job.attempts >= MAX_ATTEMPTS {
            let error = serde_json::json!({
                "error_name": "INTERNAL_ERROR",
                "message": format!("the validation was interrupted {MAX_ATTEMPTS} times (its gateway stopped): start another"),
                "error_data": {},
            });
            finish(conn, rules, owner, &job, ValidationProgress::default(), &Outcome::Failed(error))?;
            continue;
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// Records how far `owner`'s run has read and renews its lease to `until`. `false`: the run
/// is no longer `owner`'s to continue (cancelled, deleted with its table, or its lease lost).
pub fn progress(
    conn: &mut DbConnection,
    owner: &str,
    job: &ValidationJob,
    at: ValidationProgress,
    until: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        v::table
            .filter(v::organization.eq(job.organization.as_str()))
            .filter(v::id.eq(&job.id))
            .filter(v::lease_owner.eq(owner))
            .filter(v::finished_at.is_null()),
    )
    .set((v::progress.eq(json(&at)?), v::lease_until.eq(Some(until))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Ends `owner`'s run with its outcome and how far it read, and records it in the journal. `false`: nothing was
/// written (cancelled or deleted meanwhile, or the lease was lost to another replica).
pub fn finish(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    owner: &str,
    job: &ValidationJob,
    at: ValidationProgress,
    outcome: &Outcome,
) -> Result<bool, StoreError> {
    let at = json(&at)?;
    let (state, report, error) = match outcome {
        Outcome::Succeeded(r) => (ValidationState::Succeeded, Some(json(r)?), None),
        Outcome::Failed(e) => (ValidationState::Failed, None, Some(e.to_string())),
    };
    write_transaction(conn, |conn| {
        let q = v::table
            .filter(v::organization.eq(job.organization.as_str()))
            .filter(v::id.eq(&job.id))
            .filter(v::lease_owner.eq(owner))
            .filter(v::finished_at.is_null());
        let n = diesel::update(q)
            .set((
                v::state.eq(state.as_str()),
                v::finished_at.eq(Some(now_seconds())),
                v::progress.eq(&at),
                v::report.eq(&report),
                v::error.eq(&error),
                v::lease_owner.eq(None::<String>),
                v::lease_until.eq(None::<i64>),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        let counts = match outcome {
            Outcome::Succeeded(r) => Some((r.rows, r.invalid_rows)),
            Outcome::Failed(_) => None,
        };
        let actor = Actor::system("validation");
        let change =
            Change::TableValidated { kind: job.connection, name: &job.table, validation: &job.id, state, counts };
        journal::record(conn, rules, &job.organization, &actor, &change)?;
        Ok(true)
    })
}

/// Deletes a table's validations (`Some`) or a connection's (`None`), inside the caller's
/// transaction (the table's or connection's delete).
pub(crate) fn delete_of(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: Option<&TableName>,
) -> Result<(), StoreError> {
    let q = v::table.filter(v::organization.eq(org.as_str())).filter(v::connection.eq(kind.as_str()));
    match name {
        Some(n) => diesel::delete(q.filter(v::name.eq(n.as_str()))).execute(conn)?,
        None => diesel::delete(q).execute(conn)?,
    };
    Ok(())
}

/// Deletes validations finished before `before` (Unix seconds); answers how many.
pub fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(v::table.filter(v::finished_at.lt(before))).execute(conn)?)
}

/// Validations waiting or running, over every organization (for `/metrics`).
pub fn open_count(conn: &mut DbConnection) -> Result<(i64, i64), StoreError> {
    let rows: Vec<(String, i64)> = v::table
        .filter(v::finished_at.is_null())
        .group_by(v::state)
        .select((v::state, diesel::dsl::count_star()))
        .load(conn)?;
    let of = |s: ValidationState| rows.iter().filter(|(st, _)| st == s.as_str()).map(|(_, n)| *n).sum::<i64>();
    Ok((of(ValidationState::Queued), of(ValidationState::Running)))
}

impl Store {
    pub fn start_validation(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        max_errors: u32,
        max_rows: Option<u64>,
    ) -> Result<(ValidationView, bool), StoreError> {
        self.with(|c| start(c, org, kind, name, max_errors, max_rows))
    }

    pub fn get_validation(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        id: &str,
    ) -> Result<Option<ValidationView>, StoreError> {
        self.with(|c| get(c, org, kind, name, id))
    }

    pub fn validations_page(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<(Vec<ValidationView>, bool), StoreError> {
        self.with(|c| page(c, org, kind, name, paging))
    }

    pub fn cancel_validation(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        id: &str,
    ) -> Result<Option<bool>, StoreError> {
        self.with(|c| cancel(c, org, kind, name, id))
    }

    pub fn claim_validations(
        &self,
        owner: &str,
        now: i64,
        lease_secs: i64,
        limit: i64,
        per_org: i64,
    ) -> Result<Vec<ValidationJob>, StoreError> {
        self.with(|c| claim(c, self.rules(), owner, now, lease_secs, limit, per_org))
    }

    pub fn validation_progress(
        &self,
        owner: &str,
        job: &ValidationJob,
        at: ValidationProgress,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.with(|c| progress(c, owner, job, at, until))
    }

    pub fn finish_validation(
        &self,
        owner: &str,
        job: &ValidationJob,
        at: ValidationProgress,
        outcome: &Outcome,
    ) -> Result<bool, StoreError> {
        self.with(|c| finish(c, self.rules(), owner, job, at, outcome))
    }

    pub fn prune_validations(&self, before: i64) -> Result<usize, StoreError> {
        self.with(|c| prune(c, before))
    }

    /// Validations (queued, running) over every organization.
    pub fn open_validations(&self) -> Result<(i64, i64), StoreError> {
        self.with(open_count)
    }
}
