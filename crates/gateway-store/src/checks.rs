//! Scheduled re-tests: one job row per connection (`name` = '') and per table, due at a time.
//! A gateway claims due jobs by writing a lease (owner, until) in a short transaction; on
//! PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED`, so replicas claiming at once take
//! different jobs, and a replica that dies leaves a lease that expires for another to claim.

use std::collections::BTreeMap;

use diesel::prelude::*;
use gateway_domain::{ConnectionKind, OrganizationId, TableName, now_seconds};

use crate::StoreError;
use crate::db::{DbConnection, Store, write_transaction};
use crate::schema::scheduled_checks as s;

/// How often things are re-tested.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPolicy {
    /// Seconds between two checks of one table or connection (default 6 h).
    pub interval_secs: i64,
    /// Per-organization intervals, overriding `interval_secs`.
    pub org_intervals: BTreeMap<String, i64>,
    /// Each next check moves by up to this fraction of the interval, either way, so that
    /// tables created together are not checked together for ever (default 0.1).
    pub jitter: f64,
}

impl Default for CheckPolicy {
    fn default() -> Self {
        CheckPolicy { interval_secs: 6 * 3600, org_intervals: BTreeMap::new(), jitter: 0.1 }
    }
}

impl CheckPolicy {
    /// The interval of `org`.
    pub fn interval(&self, org: &str) -> i64 {
        self.org_intervals.get(org).copied().unwrap_or(self.interval_secs).max(1)
    }

    /// When the next check after `now` is due, jitter included.
    pub fn next_due(&self, org: &str, now: i64) -> i64 {
        let interval = self.interval(org);
        let spread = (interval as f64 * self.jitter.clamp(0.0, 0.5)) as i64;
        if spread == 0 {
            return now + interval;
        }
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        let r = (u64::from_le_bytes(b) % (2 * spread as u64 + 1)) as i64 - spread;
        now + interval + r
    }
}

/// A claimed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckJob {
    pub organization: OrganizationId,
    pub connection: ConnectionKind,
    /// `None`: the connection's credentials.
    pub table: Option<TableName>,
    /// Temporary failures in a row before this run.
    pub failures: i32,
}

impl CheckJob {
    fn name(&self) -> &str {
        self.table.as_ref().map_or("", |t| t.as_str())
    }
}

/// Creates the job of a new connection (`name` = None) or table, due one interval from now,
/// unless it exists.
pub(crate) fn schedule(
    conn: &mut DbConnection,
    policy: &CheckPolicy,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: Option<&TableName>,
) -> Result<(), StoreError> {
    let name = name.map_or("", |n| n.as_str());
    let exists: i64 = s::table
        .filter(s::organization.eq(org.as_str()))
        .filter(s::connection.eq(kind.as_str()))
        .filter(s::name.eq(name))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(s::table)
            .values((
                s::organization.eq(org.as_str()),
                s::connection.eq(kind.as_str()),
                s::name.eq(name),
                s::due_at.eq(policy.next_due(org.as_str(), now_seconds())),
                s::failures.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes the job of a table (`Some`) or every job of a connection (`None`: the connection
/// and its tables).
pub(crate) fn unschedule(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: Option<&TableName>,
) -> Result<(), StoreError> {
    let q = s::table.filter(s::organization.eq(org.as_str())).filter(s::connection.eq(kind.as_str()));
    match name {
        Some(n) => diesel::delete(q.filter(s::name.eq(n.as_str()))).execute(conn)?,
        None => diesel::delete(q).execute(conn)?,
    };
    Ok(())
}

/// The schedule's queue: one row per connection (`name` = '') and per table.
const QUEUE: crate::queue::Queue = crate::queue::Queue {
    table: "scheduled_checks",
    key: &["organization", "connection", "name"],
    due: "due_at",
    pending: "TRUE",
    returning: "organization, connection, name, failures",
};

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    organization: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    connection: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    failures: i32,
}

/// Claims up to `limit` due jobs for `owner` until `now + lease_secs`, fairly across
/// organizations (see `queue`): at most `per_org` of one organization's jobs leased at once.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: i64,
    lease_secs: i64,
    limit: i64,
    per_org: i64,
) -> Result<Vec<CheckJob>, StoreError> {
    // Nothing due (the usual case): answered by a read, without taking SQLite's write lock.
    if due_count(conn, now)? == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<Claimed> =
        write_transaction(conn, |conn| QUEUE.claim(conn, now, per_org, limit, owner, now + lease_secs))?;
    let mut jobs: Vec<CheckJob> = rows
        .into_iter()
        .filter_map(|r| {
            // A row this version cannot read stays leased and skipped, not retried in a loop.
            let organization = OrganizationId::parse(&r.organization).ok()?;
            let connection = r.connection.parse::<ConnectionKind>().ok()?;
            let table = if r.name.is_empty() { None } else { Some(TableName::parse(&r.name).ok()?) };
            Some(CheckJob { organization, connection, table, failures: r.failures })
        })
        .collect();
    jobs.sort_by(|a, b| (&a.organization, a.connection, &a.table).cmp(&(&b.organization, b.connection, &b.table)));
    Ok(jobs)
}

/// Ends `owner`'s run of a job: due again at `next_due`, with `failures` temporary failures
/// in a row; `checked` when the check ran to a verdict. A lease lost meanwhile (it expired and
/// another gateway took the job) leaves the row to its new owner.
pub fn finish(
    conn: &mut DbConnection,
    owner: &str,
    job: &CheckJob,
    next_due: i64,
    failures: i32,
    checked: bool,
) -> Result<(), StoreError> {
    let q = s::table
        .filter(s::organization.eq(job.organization.as_str()))
        .filter(s::connection.eq(job.connection.as_str()))
        .filter(s::name.eq(job.name()))
        .filter(s::lease_owner.eq(owner));
    if checked {
        diesel::update(q)
            .set((
                s::due_at.eq(next_due),
                s::failures.eq(failures),
                s::lease_owner.eq(None::<String>),
                s::lease_until.eq(None::<i64>),
                s::last_checked_at.eq(Some(now_seconds())),
            ))
            .execute(conn)?;
    } else {
        diesel::update(q)
            .set((
                s::due_at.eq(next_due),
                s::failures.eq(failures),
                s::lease_owner.eq(None::<String>),
                s::lease_until.eq(None::<i64>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Moves every unclaimed job of `org`'s `kind` due before `until` to `until`: the provider
/// asked to wait (a rate limit), so nothing of that account is tried before. On PostgreSQL
/// the rows are taken `FOR UPDATE SKIP LOCKED`: a row another transaction holds (a delete of
/// the connection, a claim) is left to it, so this never waits and never deadlocks with it.
pub fn defer(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    until: i64,
) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let now = now_seconds();
        let candidates = s::table
            .filter(s::organization.eq(org.as_str()))
            .filter(s::connection.eq(kind.as_str()))
            .filter(s::due_at.lt(until))
            // Not held by a live claim (an expired one's holder is gone).
            .filter(s::lease_until.is_null().or(s::lease_until.lt(now)))
            .select(s::name)
            .order(s::name.asc());
        let names: Vec<String> = match conn {
            DbConnection::Postgresql(pg) => candidates.for_update().skip_locked().load(pg)?,
            DbConnection::Sqlite(_) => candidates.load(conn)?,
        };
        let mut moved = 0;
        for chunk in names.chunks(500) {
            moved += diesel::update(
                s::table
                    .filter(s::organization.eq(org.as_str()))
                    .filter(s::connection.eq(kind.as_str()))
                    .filter(s::name.eq_any(chunk)),
            )
            .set(s::due_at.eq(until))
            .execute(conn)?;
        }
        Ok(moved)
    })
}

/// Repairs the schedule: a job for every stored table and connection that has none (written
/// by a replica of an older version during a rolling deploy, or before a crash in between),
/// due one interval from now; no job for what no longer exists. Cheap to run hourly.
pub fn reconcile(conn: &mut DbConnection, policy: &CheckPolicy) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection;
    let due = now_seconds() + policy.interval_secs.max(1);
    // No value in this SQL comes from a tenant: the one number is formatted in.
    let sql = format!(
        "INSERT INTO scheduled_checks (organization, connection, name, due_at, failures) \
           SELECT t.organization, t.connection, t.name, {due}, 0 FROM connection_tables t \
           WHERE NOT EXISTS (SELECT 1 FROM scheduled_checks s WHERE s.organization = t.organization \
             AND s.connection = t.connection AND s.name = t.name); \
         INSERT INTO scheduled_checks (organization, connection, name, due_at, failures) \
           SELECT c.organization, c.kind, '', {due}, 0 FROM connections c \
           WHERE NOT EXISTS (SELECT 1 FROM scheduled_checks s WHERE s.organization = c.organization \
             AND s.connection = c.kind AND s.name = ''); \
         DELETE FROM scheduled_checks WHERE name <> '' AND NOT EXISTS (SELECT 1 FROM connection_tables t \
           WHERE t.organization = scheduled_checks.organization AND t.connection = scheduled_checks.connection \
             AND t.name = scheduled_checks.name); \
         DELETE FROM scheduled_checks WHERE name = '' AND NOT EXISTS (SELECT 1 FROM connections c \
           WHERE c.organization = scheduled_checks.organization AND c.kind = scheduled_checks.connection);"
    );
    write_transaction(conn, |conn| conn.batch_execute(&sql).map_err(StoreError::from))
}

/// Where a job stands, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState {
    /// When it is due next, Unix seconds.
    pub due_at: i64,
    /// Temporary failures in a row.
    pub failures: i32,
    /// When a check last reached a verdict.
    pub last_checked_at: Option<i64>,
    /// Whether a gateway holds it now.
    pub leased: bool,
}

/// The job of a connection (`name` = None) or a table.
pub fn state(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: Option<&TableName>,
) -> Result<Option<CheckState>, StoreError> {
    let row: Option<(i64, i32, Option<i64>, Option<i64>)> = s::table
        .filter(s::organization.eq(org.as_str()))
        .filter(s::connection.eq(kind.as_str()))
        .filter(s::name.eq(name.map_or("", |n| n.as_str())))
        .select((s::due_at, s::failures, s::last_checked_at, s::lease_until))
        .first(conn)
        .optional()?;
    let now = now_seconds();
    Ok(row.map(|(due_at, failures, last_checked_at, lease)| CheckState {
        due_at,
        failures,
        last_checked_at,
        leased: lease.is_some_and(|l| l >= now),
    }))
}

/// Jobs due now and not claimed.
pub fn due_count(conn: &mut DbConnection, now: i64) -> Result<i64, StoreError> {
    Ok(s::table
        .filter(s::due_at.le(now))
        .filter(s::lease_until.is_null().or(s::lease_until.lt(now)))
        .count()
        .get_result(conn)?)
}

impl Store {
    pub fn claim_checks(
        &self,
        owner: &str,
        now: i64,
        lease_secs: i64,
        limit: i64,
        per_org: i64,
    ) -> Result<Vec<CheckJob>, StoreError> {
        self.with(|c| claim(c, owner, now, lease_secs, limit, per_org))
    }

    pub fn finish_check(
        &self,
        owner: &str,
        job: &CheckJob,
        next_due: i64,
        failures: i32,
        checked: bool,
    ) -> Result<(), StoreError> {
        self.with(|c| finish(c, owner, job, next_due, failures, checked))
    }

    pub fn defer_checks(&self, org: &OrganizationId, kind: ConnectionKind, until: i64) -> Result<usize, StoreError> {
        self.with(|c| defer(c, org, kind, until))
    }

    pub fn check_state(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: Option<&TableName>,
    ) -> Result<Option<CheckState>, StoreError> {
        self.with(|c| state(c, org, kind, name))
    }

    pub fn due_checks(&self, now: i64) -> Result<i64, StoreError> {
        self.with(|c| due_count(c, now))
    }

    /// See [`reconcile`].
    pub fn reconcile_checks(&self) -> Result<(), StoreError> {
        self.with(|c| reconcile(c, &self.policy))
    }

    /// The schedule's rule for new jobs and the next check after one.
    pub fn check_policy(&self) -> &CheckPolicy {
        &self.policy
    }
}
