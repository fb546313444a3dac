//! The schedule: re-tests of every stored connection and table, webhook deliveries from the
//! outbox, validations (`validations`), and the retention of what they keep, run by every gateway ([`Gateway::run_schedule`]).
//!
//! Work is claimed from the database with a lease (`gateway_store::checks`,
//! `gateway_store::webhooks`), so replicas sharing a PostgreSQL split it and each due check
//! runs once; a replica that dies mid-check leaves a lease that expires for another. On
//! SQLite the same runs in the one process.
//!
//! A check runs the same path as `GET .../test/` (tables) and `POST .../test/` without a body
//! (connections). A temporary provider failure (timeout, rate limit, outage) is retried with
//! backoff and recorded only when it persists; a provider's `Retry-After` defers every check
//! of that organization's connection until then.
//!
//! One tenant cannot stop or slow the schedule for the others:
//! - the check loop and the delivery loop are separate tasks under a supervisor that restarts
//!   one that ends by a panic (`gateway_scheduler_restarts_total`); each loop beats a
//!   heartbeat gauge (`gateway_scheduler_heartbeat_timestamp_seconds`);
//! - every claimed job runs in a task of its own, bounded in time; a panic in it (a
//!   connector's, say) is that job's temporary failure (backed off, its lease ended), never
//!   the loop's;
//! - work is claimed fairly across organizations, at most so many of one organization's
//!   jobs in flight (counting other replicas'), and a slot is refilled as soon as its job
//!   ends: no batch is awaited whole.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gateway_domain::{Actor, ConnectionKind, OrganizationId, now_seconds, random_id};
use gateway_store::{CheckJob, Delivery};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Gateway;

/// How the schedule runs.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// Whether this gateway runs the schedule (`GATEWAY_SCHEDULER`): off, it only serves.
    pub enabled: bool,
    /// How often to look for due work when there is none.
    pub tick: Duration,
    /// Checks at once, per gateway.
    pub concurrency: usize,
    /// Checks of one organization in flight at once, over every gateway.
    pub org_concurrency: usize,
    /// How long a claimed check is this gateway's before another may take it (it must outlast
    /// the checks of one organization's connection run one after another, each bounded by
    /// [`ScheduleSettings::job_timeout`]).
    pub lease_secs: i64,
    /// The longest one scheduled check may take, all waits included (its provider calls are
    /// bounded by the connector timeout within it).
    pub job_timeout: Duration,
    /// Webhook deliveries at once, per gateway.
    pub delivery_concurrency: usize,
    /// Deliveries of one organization in flight at once, over every gateway.
    pub delivery_org_concurrency: usize,
    /// Temporary failures in a row before one is recorded as the status.
    pub temporary_retries: i32,
    /// Days the audit trail keeps an entry; 0 keeps them for ever.
    pub audit_retention_days: u32,
    /// Days a replaced schema stays in a table's history (each table's newest is always
    /// kept); 0 keeps them for ever.
    pub schema_retention_days: u32,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            enabled: true,
            tick: Duration::from_secs(5),
            concurrency: 16,
            org_concurrency: 2,
            lease_secs: 300,
            job_timeout: Duration::from_secs(90),
            delivery_concurrency: 16,
            delivery_org_concurrency: 4,
            temporary_retries: 3,
            audit_retention_days: 365,
            schema_retention_days: 365,
        }
    }
}

/// Seconds before retrying a check after `failures` temporary failures: 60 s doubling, at most
/// `interval`.
fn check_backoff(failures: i32, interval: i64) -> i64 {
    (60i64 << failures.clamp(0, 16)).min(interval.max(60))
}

/// How a scheduled check ended.
enum Outcome {
    /// A status was recorded.
    Checked,
    /// A temporary failure: try again later (the provider's wait, when it gave one).
    Temporary(Option<Duration>),
    /// The table or connection is gone.
    Gone,
    /// The check panicked or outlived its time: the gateway's failure, retried later.
    Failed(&'static str),
}

/// A task that is aborted when this is dropped: the loops die with the schedule's future.
struct Owned(tokio::task::JoinHandle<()>);

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Takes every free slot of `slots`, waiting for the first.
pub(crate) async fn free_slots(slots: &Arc<Semaphore>) -> Vec<OwnedSemaphorePermit> {
    let Ok(first) = slots.clone().acquire_owned().await else { return Vec::new() };
    let mut taken = vec![first];
    while let Ok(p) = slots.clone().try_acquire_owned() {
        taken.push(p);
    }
    taken
}

impl Gateway {
    /// Runs the schedule until the future is dropped: re-tests and deliveries, each in its
    /// own supervised loop. The binary spawns it beside the HTTP server; an embedder spawns
    /// it on its runtime (or not at all).
    pub async fn run_schedule(self) {
        let settings = self.settings().schedule.clone();
        if !settings.enabled {
            return;
        }
        let owner = format!("gateway-{}", random_id().get(..12).unwrap_or_default());
        tracing::info!(%owner, "schedule started");
        let (g, o, s) = (self.clone(), owner.clone(), settings.clone());
        let checks = self.supervise("checks", move || g.clone().check_loop(o.clone(), s.clone()));
        let (g, o, s) = (self.clone(), owner.clone(), settings.clone());
        let deliveries = self.supervise("deliveries", move || g.clone().delivery_loop(o.clone(), s.clone()));
        let (g, tick) = (self.clone(), settings.tick);
        let validations = self.supervise("validations", move || g.clone().validation_loop(owner.clone(), tick));
        futures_util::future::join3(checks, deliveries, validations).await;
    }

    /// Runs the loop `make` starts in a task of its own, and starts it again when it ends by
    /// a panic (a second later, counted).
    async fn supervise<F, Fut>(&self, name: &'static str, make: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        loop {
            let mut task = Owned(tokio::spawn(make()));
            match (&mut task.0).await {
                Err(e) if e.is_panic() => {
                    self.metrics().scheduler_restart(name);
                    tracing::error!(loop = name, "a schedule loop panicked: restarting it");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ => return,
            }
        }
    }

    async fn check_loop(self, owner: String, settings: ScheduleSettings) {
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        loop {
            self.metrics().heartbeat("checks");
            let mut free = free_slots(&slots).await;
            let (o, limit, lease) = (owner.clone(), free.len() as i64, settings.lease_secs);
            let per_org = settings.org_concurrency.max(1) as i64;
            let jobs = match self.db(move |s| s.claim_checks(&o, now_seconds(), lease, limit, per_org)).await {
                Ok(jobs) => jobs,
                Err(p) => {
                    tracing::warn!(error = %p.message, "cannot claim scheduled checks");
                    Vec::new()
                }
            };
            let claimed = jobs.len();
            // One organization's connection is checked one job after another (its provider
            // account's rate limit); groups run at once, each in a task of its own holding a
            // slot per job.
            let mut groups: BTreeMap<(OrganizationId, ConnectionKind), Vec<CheckJob>> = BTreeMap::new();
            for job in jobs {
                groups.entry((job.organization.clone(), job.connection)).or_default().push(job);
            }
            for group in groups.into_values() {
                let held: Vec<OwnedSemaphorePermit> = free.drain(..group.len().min(free.len())).collect();
                let (gateway, owner, settings) = (self.clone(), owner.clone(), settings.clone());
                tokio::spawn(async move {
                    let mut held_until = None;
                    for job in group {
                        match held_until {
                            // The provider asked this account to wait: the rest of the
                            // group waits too, untried.
                            Some(until) => gateway.postpone(&owner, job, until).await,
                            None => held_until = gateway.run_check(&owner, &settings, job).await,
                        }
                    }
                    drop(held);
                });
            }
            drop(free);
            if (claimed as i64) < limit {
                // Nothing more is due now (or the organizations due are at their share).
                tokio::time::sleep(settings.tick).await;
            }
        }
    }

    async fn delivery_loop(self, owner: String, settings: ScheduleSettings) {
        let slots = Arc::new(Semaphore::new(settings.delivery_concurrency.max(1)));
        let mut last_prune = 0;
        let mut last_backlog = 0;
        loop {
            self.metrics().heartbeat("deliveries");
            let now = now_seconds();
            if now - last_prune >= 3600 {
                last_prune = now;
                self.prune(&settings).await;
            }
            if now - last_backlog >= 5 {
                last_backlog = now;
                let backlog =
                    self.db(move |s| Ok((s.due_checks(now)?, s.pending_deliveries()?, s.open_validations()?))).await;
                if let Ok((due, pending, (queued, running))) = backlog {
                    self.metrics().schedule_backlog(due, pending);
                    self.metrics().validations_open(queued, running);
                }
            }
            let mut free = free_slots(&slots).await;
            let (o, limit) = (owner.clone(), free.len() as i64);
            let lease = gateway_connector::webhook::DELIVERY_TIMEOUT.as_secs() as i64 * 3;
            let per_org = settings.delivery_org_concurrency.max(1) as i64;
            let claimed = match self.db(move |s| s.claim_deliveries(&o, now, lease, limit, per_org)).await {
                Ok(d) => d,
                Err(p) => {
                    tracing::warn!(error = %p.message, "cannot claim webhook deliveries");
                    Vec::new()
                }
            };
            let n = claimed.len();
            for delivery in claimed {
                let Some(slot) = free.pop() else { break };
                let (gateway, owner) = (self.clone(), owner.clone());
                tokio::spawn(async move {
                    gateway.run_delivery(&owner, delivery).await;
                    drop(slot);
                });
            }
            drop(free);
            if (n as i64) < limit {
                tokio::time::sleep(settings.tick.min(Duration::from_secs(1))).await;
            }
        }
    }

    /// Delivers one claimed outbox row in a task of its own: a panic is that delivery's
    /// failed attempt (its lease expires and it is tried again), never the loop's.
    async fn run_delivery(&self, owner: &str, delivery: Delivery) {
        let (g, o) = (self.clone(), owner.to_owned());
        match tokio::spawn(async move { g.deliver(&o, delivery).await }).await {
            Ok(Ok(_)) => {}
            Ok(Err(p)) => tracing::warn!(error = %p.message, "cannot record a webhook delivery"),
            Err(e) if e.is_panic() => {
                tracing::error!("a webhook delivery panicked: its lease will expire and it is tried again");
            }
            Err(_) => {}
        }
    }

    async fn prune(&self, settings: &ScheduleSettings) {
        // Unfinished uploads a crash left behind (a live one writes more often than this).
        if let Some(storage) = self.registry().uploads() {
            let idle = self.settings().upload_idle_timeout;
            match storage.sweep((idle * 3).max(Duration::from_secs(3600))).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(swept = n, "deleted unfinished uploads"),
                Err(e) => tracing::warn!(reason = %e.kind, "cannot sweep unfinished uploads"),
            }
        }
        let now = now_seconds();
        let days = i64::from(settings.audit_retention_days);
        let validation_days = i64::from(self.settings().validation.retention_days);
        let schema_days = i64::from(settings.schema_retention_days);
        let result = self
            .db(move |s| {
                s.reconcile_checks()?;
                let audit = if days > 0 { s.prune_audit(now - days * 86_400)? } else { 0 };
                // Finished deliveries are kept a week, for operators looking into one.
                let deliveries = s.prune_deliveries(now - 7 * 86_400)?;
                let validations =
                    if validation_days > 0 { s.prune_validations(now - validation_days * 86_400)? } else { 0 };
                let schemas = if schema_days > 0 { s.prune_schemas(now - schema_days * 86_400)? } else { 0 };
                Ok((audit, deliveries, validations, schemas))
            })
            .await;
        match result {
            Ok((audit, deliveries, validations, schemas)) if audit + deliveries + validations + schemas > 0 => {
                tracing::info!(
                    audit,
                    deliveries,
                    validations,
                    schemas,
                    "pruned the audit trail, deliveries, validations and schema history"
                );
            }
            Ok(_) => {}
            Err(p) => tracing::warn!(error = %p.message, "cannot prune the audit trail"),
        }
    }

    /// Ends the lease of a claimed check without running it: due again at `until`.
    async fn postpone(&self, owner: &str, job: CheckJob, until: i64) {
        let (owner, failures) = (owner.to_owned(), job.failures);
        if let Err(p) = self.db(move |s| s.finish_check(&owner, &job, until, failures, false)).await {
            tracing::warn!(error = %p.message, "cannot postpone a scheduled check (its lease will expire)");
        }
    }

    /// Runs one claimed check in a task of its own, bounded by the job timeout, and ends its
    /// lease; answers until when the provider asked this organization's connection to wait,
    /// if it did.
    async fn run_check(&self, owner: &str, settings: &ScheduleSettings, job: CheckJob) -> Option<i64> {
        let last_try = job.failures + 1 >= settings.temporary_retries.max(1);
        let target = if job.table.is_some() { "table" } else { "connection" };
        let (g, j) = (self.clone(), job.clone());
        let check = tokio::spawn(async move {
            let actor = Actor::system("scheduler");
            match &j.table {
                Some(name) => g.scheduled_table_check(&j, name, &actor, last_try).await,
                None => g.scheduled_connection_check(&j, &actor, last_try).await,
            }
        });
        let outcome = match tokio::time::timeout(settings.job_timeout, check).await {
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(p))) => {
                tracing::warn!(connection = %job.connection, error = %p.message, "scheduled check failed");
                Outcome::Temporary(None)
            }
            Ok(Err(e)) if e.is_panic() => {
                tracing::error!(connection = %job.connection, "a scheduled check panicked: retried later");
                Outcome::Failed("panicked")
            }
            Ok(Err(_)) => Outcome::Failed("cancelled"),
            Err(_) => {
                tracing::warn!(connection = %job.connection, "a scheduled check outlived its time: retried later");
                Outcome::Failed("timeout")
            }
        };
        let now = now_seconds();
        let policy = self.inner.store.check_policy().clone();
        let org = job.organization.as_str().to_owned();
        let mut held_until = None;
        let (next_due, failures, checked, label) = match outcome {
            Outcome::Checked => (policy.next_due(&org, now), 0, true, "checked"),
            Outcome::Gone => (policy.next_due(&org, now), 0, false, "gone"),
            Outcome::Failed(why) => {
                let backoff = check_backoff(job.failures, policy.interval(&org));
                (now + backoff, job.failures.saturating_add(1), false, why)
            }
            Outcome::Temporary(wait) => {
                let backoff = check_backoff(job.failures, policy.interval(&org));
                let asked = wait.map_or(0, |w| w.as_secs() as i64);
                if asked > 0 {
                    held_until = Some(now + asked);
                    let (o, kind) = (job.organization.clone(), job.connection);
                    let _ = self.db(move |s| s.defer_checks(&o, kind, now + asked)).await;
                }
                (now + backoff.max(asked), job.failures.saturating_add(1), false, "temporary")
            }
        };
        self.metrics().scheduled_check(target, label);
        let owner = owner.to_owned();
        if let Err(p) = self.db(move |s| s.finish_check(&owner, &job, next_due, failures, checked)).await {
            tracing::warn!(error = %p.message, "cannot end a scheduled check (its lease will expire)");
        }
        held_until
    }

    async fn scheduled_table_check(
        &self,
        job: &CheckJob,
        name: &gateway_domain::TableName,
        actor: &Actor,
        last_try: bool,
    ) -> Result<Outcome, gateway_domain::Problem> {
        let Some(table) = self.load_table(&job.organization, job.connection, name).await? else {
            return Ok(Outcome::Gone);
        };
        let conn = match self.load_connection(&job.organization, job.connection).await {
            Ok(c) => c,
            Err(p) if p.name == gateway_domain::ErrorName::ConnectionNotFound => return Ok(Outcome::Gone),
            Err(p) => return Err(p),
        };
        if self.registry().get(job.connection).is_none() {
            return Ok(Outcome::Gone);
        }
        let Some(_call) = self.inner.limits.scheduled(self.settings().connector_timeout).await else {
            return Ok(Outcome::Temporary(None));
        };
        match self.preview_and_record_with(conn.as_ref(), table, Vec::new(), actor, last_try).await {
            Ok(_) => Ok(Outcome::Checked),
            Err(f) => match f.provider {
                Some((kind, wait)) if kind.is_temporary() && !last_try => Ok(Outcome::Temporary(wait)),
                Some(_) => Ok(Outcome::Checked),
                // The gateway's own failure (its database): nothing was recorded; retried.
                None if matches!(
                    f.problem.name,
                    gateway_domain::ErrorName::ServiceUnavailable | gateway_domain::ErrorName::InternalError
                ) =>
                {
                    Err(f.problem)
                }
                None => Ok(Outcome::Checked),
            },
        }
    }

    async fn scheduled_connection_check(
        &self,
        job: &CheckJob,
        actor: &Actor,
        last_try: bool,
    ) -> Result<Outcome, gateway_domain::Problem> {
        let (o, kind) = (job.organization.clone(), job.connection);
        let Some(stored) = self.db(move |s| s.get_connection(&o, kind)).await? else {
            return Ok(Outcome::Gone);
        };
        if self.registry().get(kind).is_none() {
            return Ok(Outcome::Gone);
        }
        let Some(_call) = self.inner.limits.scheduled(self.settings().connector_timeout).await else {
            return Ok(Outcome::Temporary(None));
        };
        let result = self.run_credential_test(&job.organization, kind, &stored.credentials).await;
        if let Err(f) = &result
            && f.kind.is_some_and(gateway_connector::ErrorKind::is_temporary)
            && !last_try
        {
            return Ok(Outcome::Temporary(f.retry_after));
        }
        let status = crate::connections::connection_status(&result);
        let (o, a) = (job.organization.clone(), actor.clone());
        self.db(move |s| s.set_connection_status(&o, kind, &stored.credentials, status, &a)).await?;
        Ok(Outcome::Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_the_interval() {
        assert_eq!(check_backoff(0, 21_600), 60);
        assert_eq!(check_backoff(2, 21_600), 240);
        assert_eq!(check_backoff(12, 21_600), 21_600);
        assert_eq!(check_backoff(3, 30), 60, "never under a minute");
    }
}
