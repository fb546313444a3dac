//! The schedule: re-tests of every stored connection and table, webhook deliveries from the
//! outbox, and the audit trail's retention, run by every gateway ([`Gateway::run_schedule`]).
//!
//! Work is claimed from the database with a lease (`gateway_store::checks`,
//! `gateway_store::webhooks`), so replicas sharing a PostgreSQL split it and each due check
//! runs once; a replica that dies mid-check leaves a lease that expires for another. On
//! SQLite the same runs in the one process.
//!
//! A check runs the same path as `GET .../test/` (tables) and `POST .../test/` without a body
//! (connections). A temporary provider failure (timeout, rate limit, outage) is retried with
//! backoff and recorded only when it persists; a provider's `Retry-After` defers every check
//! of that organization's connection until then. Checks of one organization's connection run
//! one after another; at most `concurrency` run at once.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use gateway_domain::{Actor, ConnectionKind, OrganizationId, now_seconds, random_id};
use gateway_store::CheckJob;

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
    /// How long a claimed check is this gateway's before another may take it (it must outlast
    /// a check: the connector timeout and then some).
    pub lease_secs: i64,
    /// Temporary failures in a row before one is recorded as the status.
    pub temporary_retries: i32,
    /// Days the audit trail keeps an entry; 0 keeps them for ever.
    pub audit_retention_days: u32,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            enabled: true,
            tick: Duration::from_secs(5),
            concurrency: 4,
            lease_secs: 300,
            temporary_retries: 3,
            audit_retention_days: 365,
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
}

impl Gateway {
    /// Runs the schedule until the future is dropped: re-tests and deliveries, each in its
    /// own loop. The binary spawns it beside the HTTP server; an embedder spawns it on its
    /// runtime (or not at all).
    pub async fn run_schedule(self) {
        let settings = self.settings().schedule.clone();
        if !settings.enabled {
            return;
        }
        let owner = format!("gateway-{}", &random_id()[..12]);
        tracing::info!(%owner, "schedule started");
        let checks = self.clone().check_loop(owner.clone(), settings.clone());
        let deliveries = self.delivery_loop(owner, settings);
        futures_util::future::join(checks, deliveries).await;
    }

    async fn check_loop(self, owner: String, settings: ScheduleSettings) {
        loop {
            let (o, limit, lease) = (owner.clone(), settings.concurrency.max(1) as i64, settings.lease_secs);
            let jobs = self.db(move |s| s.claim_checks(&o, now_seconds(), lease, limit)).await;
            let jobs = match jobs {
                Ok(jobs) => jobs,
                Err(p) => {
                    tracing::warn!(error = %p.message, "cannot claim scheduled checks");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::time::sleep(settings.tick).await;
                continue;
            }
            // One organization's connection is checked one job after another (its provider
            // account's rate limit); groups run at once.
            let mut groups: BTreeMap<(OrganizationId, ConnectionKind), Vec<CheckJob>> = BTreeMap::new();
            for job in jobs {
                groups.entry((job.organization.clone(), job.connection)).or_default().push(job);
            }
            join_all(groups.into_values().map(|group| {
                let (gateway, owner, settings) = (self.clone(), owner.clone(), settings.clone());
                async move {
                    let mut held_until = None;
                    for job in group {
                        match held_until {
                            // The provider asked this account to wait: the rest of the
                            // batch waits too, untried.
                            Some(until) => gateway.postpone(&owner, job, until).await,
                            None => held_until = gateway.run_check(&owner, &settings, job).await,
                        }
                    }
                }
            }))
            .await;
        }
    }

    async fn delivery_loop(self, owner: String, settings: ScheduleSettings) {
        let mut last_prune = 0;
        loop {
            let now = now_seconds();
            if now - last_prune >= 3600 {
                last_prune = now;
                self.prune(&settings).await;
            }
            let backlog = self.db(move |s| Ok((s.due_checks(now)?, s.pending_deliveries()?))).await;
            if let Ok((due, pending)) = backlog {
                self.metrics().schedule_backlog(due, pending);
            }
            let o = owner.clone();
            let lease = gateway_connector::webhook::DELIVERY_TIMEOUT.as_secs() as i64 * 3;
            let claimed = match self.db(move |s| s.claim_deliveries(&o, now, lease, 16)).await {
                Ok(d) => d,
                Err(p) => {
                    tracing::warn!(error = %p.message, "cannot claim webhook deliveries");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::time::sleep(settings.tick.min(Duration::from_secs(1))).await;
                continue;
            }
            join_all(claimed.into_iter().map(|d| {
                let (gateway, owner) = (self.clone(), owner.clone());
                async move {
                    if let Err(p) = gateway.deliver(&owner, d).await {
                        tracing::warn!(error = %p.message, "cannot record a webhook delivery");
                    }
                }
            }))
            .await;
        }
    }

    async fn prune(&self, settings: &ScheduleSettings) {
        let now = now_seconds();
        let days = i64::from(settings.audit_retention_days);
        let result = self
            .db(move |s| {
                s.reconcile_checks()?;
                let audit = if days > 0 { s.prune_audit(now - days * 86_400)? } else { 0 };
                // Finished deliveries are kept a week, for operators looking into one.
                let deliveries = s.prune_deliveries(now - 7 * 86_400)?;
                Ok((audit, deliveries))
            })
            .await;
        match result {
            Ok((audit, deliveries)) if audit + deliveries > 0 => {
                tracing::info!(audit, deliveries, "pruned the audit trail and finished deliveries");
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

    /// Runs one claimed check and ends its lease; answers until when the provider asked this
    /// organization's connection to wait, if it did.
    async fn run_check(&self, owner: &str, settings: &ScheduleSettings, job: CheckJob) -> Option<i64> {
        let actor = Actor::system("scheduler");
        let last_try = job.failures + 1 >= settings.temporary_retries.max(1);
        let target = if job.table.is_some() { "table" } else { "connection" };
        let outcome = match &job.table {
            Some(name) => self.scheduled_table_check(&job, name, &actor, last_try).await,
            None => self.scheduled_connection_check(&job, &actor, last_try).await,
        };
        let outcome = outcome.unwrap_or_else(|p| {
            tracing::warn!(connection = %job.connection, error = %p.message, "scheduled check failed");
            Outcome::Temporary(None)
        });
        let now = now_seconds();
        let policy = self.inner.store.check_policy().clone();
        let org = job.organization.as_str().to_owned();
        let mut held_until = None;
        let (next_due, failures, checked, label) = match outcome {
            Outcome::Checked => (policy.next_due(&org, now), 0, true, "checked"),
            Outcome::Gone => (policy.next_due(&org, now), 0, false, "gone"),
            Outcome::Temporary(wait) => {
                let backoff = check_backoff(job.failures, policy.interval(&org));
                let asked = wait.map_or(0, |w| w.as_secs() as i64);
                if asked > 0 {
                    held_until = Some(now + asked);
                    let (o, kind) = (job.organization.clone(), job.connection);
                    let _ = self.db(move |s| s.defer_checks(&o, kind, now + asked)).await;
                }
                (now + backoff.max(asked), job.failures + 1, false, "temporary")
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
        let result = self.run_credential_test(kind, &stored.credentials).await;
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
