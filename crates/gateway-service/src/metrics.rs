//! What the gateway counts, in the Prometheus text format: provider calls by kind, step and
//! outcome with their latency, bytes read by previews, the database pool, scheduled re-tests
//! webhook deliveries (and their backlog), validations, and (fed by the HTTP front) requests by route
//! template and status with their latency.
//!
//! Labels never carry an organization, a name, a path or a value a tenant chose: only the
//! closed sets of kinds, steps, outcomes, route templates and statuses, so the series stay
//! few and nothing a tenant sent reaches a scraper.

use std::time::Duration;

use gateway_connector::ErrorKind;
use gateway_domain::ConnectionKind;
use gateway_store::Store;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which provider call a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderStep {
    /// `test_credentials`: the live check of a connection's credentials.
    TestCredentials,
    /// `inspect_table`: opening a table's resource for a preview or a test.
    InspectTable,
}

impl ProviderStep {
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderStep::TestCredentials => "test_credentials",
            ProviderStep::InspectTable => "inspect_table",
        }
    }
}

/// The gateway's metrics, in a registry of their own (nothing global): an embedder serving
/// several gateways in one process gets one set per gateway.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    provider_calls: IntCounterVec,
    provider_seconds: HistogramVec,
    preview_bytes: IntCounterVec,
    requests: HistogramVec,
    pool_max: IntGauge,
    pool_open: IntGauge,
    pool_in_use: IntGauge,
    pool_waiting: IntGauge,
    checks: IntCounterVec,
    checks_due: IntGauge,
    deliveries: IntCounterVec,
    delivery_seconds: HistogramVec,
    outbox_pending: IntGauge,
    restarts: IntCounterVec,
    heartbeat: IntGaugeVec,
    api_version_days: IntGaugeVec,
    validations: IntCounterVec,
    validation_rows: IntCounterVec,
    validations_open: IntGaugeVec,
    row_reads: IntCounterVec,
    rows_served: IntCounterVec,
    row_read_bytes: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets, seconds: from a cached GET to a provider at the connector timeout.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set, every count at zero.
    #[allow(clippy::expect_used, reason = "names, labels and buckets are constants, checked by the unit test below")]
    pub fn new() -> Metrics {
        Metrics::try_new().expect("the gateway's metric definitions are valid")
    }

    fn try_new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            HistogramVec::new(HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()), labels)
        };
        let counter = |name: &str, help: &str, labels: &[&str]| IntCounterVec::new(Opts::new(name, help), labels);
        let gauge = IntGauge::new;
        let m = Metrics {
            provider_calls: counter(
                "gateway_provider_calls_total",
                "Calls to providers, by connection kind, step and outcome (ok or the failure's kind).",
                &["kind", "step", "outcome"],
            )?,
            provider_seconds: histogram(
                "gateway_provider_call_duration_seconds",
                "How long provider calls took, by connection kind and step.",
                &["kind", "step"],
            )?,
            preview_bytes: counter(
                "gateway_preview_bytes_read_total",
                "Bytes read from providers by previews and table tests, by connection kind.",
                &["kind"],
            )?,
            requests: histogram(
                "gateway_http_request_duration_seconds",
                "Requests answered (until the head of the answer), by method, route template and status.",
                &["method", "route", "status"],
            )?,
            pool_max: gauge("gateway_db_pool_max_connections", "Database connections the pool opens at most.")?,
            pool_open: gauge("gateway_db_pool_open_connections", "Database connections open (in use and idle).")?,
            pool_in_use: gauge("gateway_db_pool_in_use_connections", "Database connections lent out to a request.")?,
            pool_waiting: gauge(
                "gateway_db_pool_waiting",
                "Callers acquiring a database connection now (waiting for one, or checking a pooled one out).",
            )?,
            checks: counter(
                "gateway_scheduled_checks_total",
                "Scheduled re-tests run by this gateway, by target (table or connection) and outcome (checked, temporary, gone, panicked, timeout).",
                &["target", "outcome"],
            )?,
            checks_due: gauge(
                "gateway_scheduled_checks_due",
                "Re-tests due and not claimed by any gateway, as this gateway's scheduler last read it.",
            )?,
            deliveries: counter(
                "gateway_webhook_deliveries_total",
                "Webhook POSTs sent by this gateway, by outcome (delivered or failed).",
                &["outcome"],
            )?,
            delivery_seconds: histogram(
                "gateway_webhook_delivery_duration_seconds",
                "How long webhook endpoints took to answer.",
                &[],
            )?,
            outbox_pending: gauge(
                "gateway_webhook_outbox_pending",
                "Webhook deliveries not yet delivered nor given up, as this gateway's scheduler last read it.",
            )?,
            restarts: counter(
                "gateway_scheduler_restarts_total",
                "Schedule loops (checks, deliveries) restarted after a panic.",
                &["loop"],
            )?,
            heartbeat: IntGaugeVec::new(
                Opts::new(
                    "gateway_scheduler_heartbeat_timestamp_seconds",
                    "When each schedule loop (checks, deliveries) last went round, Unix seconds: a loop that stopped shows here.",
                ),
                &["loop"],
            )?,
            api_version_days: IntGaugeVec::new(
                Opts::new(
                    "gateway_provider_api_version_days_left",
                    "Days until the provider retires the API version its connector pins (negative once past).",
                ),
                &["kind", "version", "retires"],
            )?,
            validations: counter(
                "gateway_validations_total",
                "Validations run by this gateway, by outcome (succeeded, failed, cancelled).",
                &["outcome"],
            )?,
            validation_rows: counter(
                "gateway_validation_rows_total",
                "Rows read by this gateway's succeeded validations.",
                &[],
            )?,
            validations_open: IntGaugeVec::new(
                Opts::new(
                    "gateway_validations_open",
                    "Validations queued or running over every gateway, by state, as this gateway last read it.",
                ),
                &["state"],
            )?,
            row_reads: counter(
                "gateway_row_reads_total",
                "Reads of rows (GET .../rows/) by how they ended (completed, stopped, failed).",
                &["ended"],
            )?,
            rows_served: counter(
                "gateway_rows_served_total",
                "Rows served by reads of rows, and rows they skipped as invalid (outcome served, skipped).",
                &["outcome"],
            )?,
            row_read_bytes: counter("gateway_row_read_bytes_total", "Source bytes read by reads of rows.", &[])?,
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.provider_calls.clone()),
            Box::new(m.provider_seconds.clone()),
            Box::new(m.preview_bytes.clone()),
            Box::new(m.requests.clone()),
            Box::new(m.pool_max.clone()),
            Box::new(m.pool_open.clone()),
            Box::new(m.pool_in_use.clone()),
            Box::new(m.pool_waiting.clone()),
            Box::new(m.checks.clone()),
            Box::new(m.checks_due.clone()),
            Box::new(m.deliveries.clone()),
            Box::new(m.delivery_seconds.clone()),
            Box::new(m.outbox_pending.clone()),
            Box::new(m.restarts.clone()),
            Box::new(m.heartbeat.clone()),
            Box::new(m.api_version_days.clone()),
            Box::new(m.validations.clone()),
            Box::new(m.validation_rows.clone()),
            Box::new(m.validations_open.clone()),
            Box::new(m.row_reads.clone()),
            Box::new(m.rows_served.clone()),
            Box::new(m.row_read_bytes.clone()),
        ];
        for c in collectors {
            m.registry.register(c)?;
        }
        Ok(m)
    }

    /// The registry, for an embedder adding its own collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// One provider call, finished (`Err` holding its failure's kind).
    pub fn provider_call(
        &self,
        kind: ConnectionKind,
        step: ProviderStep,
        outcome: Result<(), ErrorKind>,
        took: Duration,
    ) {
        let outcome = match outcome {
            Ok(()) => "ok",
            Err(k) => k.as_str(),
        };
        self.provider_calls.with_label_values(&[kind.as_str(), step.as_str(), outcome]).inc();
        self.provider_seconds.with_label_values(&[kind.as_str(), step.as_str()]).observe(took.as_secs_f64());
    }

    /// Bytes a preview read from a provider.
    pub fn preview_bytes(&self, kind: ConnectionKind, bytes: u64) {
        self.preview_bytes.with_label_values(&[kind.as_str()]).inc_by(bytes);
    }

    /// One request answered. `route` is the template the router matched
    /// (`/connections/{connection}/tables/{table}`), never the path itself.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.requests.with_label_values(&[method, route, &status]).observe(took.as_secs_f64());
    }

    /// One scheduled re-test, finished: `target` is `table` or `connection`; `outcome` is
    /// `checked` (a status recorded), `temporary` (retried later), `gone`, or the gateway's
    /// own failure, retried later: `panicked`, `timeout`.
    pub fn scheduled_check(&self, target: &'static str, outcome: &'static str) {
        self.checks.with_label_values(&[target, outcome]).inc();
    }

    /// A schedule loop (`checks`, `deliveries`) restarted after a panic.
    pub fn scheduler_restart(&self, name: &'static str) {
        self.restarts.with_label_values(&[name]).inc();
    }

    /// A schedule loop went round.
    pub fn heartbeat(&self, name: &'static str) {
        self.heartbeat.with_label_values(&[name]).set(gateway_domain::now_seconds());
    }

    /// The scheduler's last reading of the due re-tests and pending deliveries.
    pub fn schedule_backlog(&self, due: i64, pending: i64) {
        self.checks_due.set(due);
        self.outbox_pending.set(pending);
    }

    /// One validation, finished: `succeeded` (with the rows it read), `failed`, `cancelled`.
    pub fn validation_finished(&self, outcome: &'static str, rows: u64) {
        self.validations.with_label_values(&[outcome]).inc();
        self.validation_rows.with_label_values::<&str>(&[]).inc_by(rows);
    }

    /// A read of rows, ended.
    pub fn row_read(&self, ended: &'static str, served: u64, skipped: u64, bytes: u64) {
        self.row_reads.with_label_values(&[ended]).inc();
        self.rows_served.with_label_values(&["served"]).inc_by(served);
        self.rows_served.with_label_values(&["skipped"]).inc_by(skipped);
        self.row_read_bytes.with_label_values::<&str>(&[]).inc_by(bytes);
    }

    /// The validations queued and running over every gateway, as last read.
    pub fn validations_open(&self, queued: i64, running: i64) {
        self.validations_open.with_label_values(&["queued"]).set(queued);
        self.validations_open.with_label_values(&["running"]).set(running);
    }

    /// One webhook POST, finished.
    pub fn webhook_delivery(&self, delivered: bool, took: Duration) {
        self.deliveries.with_label_values(&[if delivered { "delivered" } else { "failed" }]).inc();
        self.delivery_seconds.with_label_values::<&str>(&[]).observe(took.as_secs_f64());
    }

    /// The days left of each pinned provider API version, read now.
    pub fn api_versions(&self, registry: &gateway_connector::Registry) {
        let now = gateway_domain::now_seconds();
        for kind in registry.kinds() {
            if let Some(v) = registry.get(kind).and_then(|c| c.api_version()) {
                self.api_version_days.with_label_values(&[kind.as_str(), v.version, v.retires]).set(v.days_left(now));
            }
        }
    }

    /// The text exposition, with the pool's gauges read now.
    pub fn render(&self, store: &Store) -> String {
        let pool = store.pool_state();
        self.pool_max.set(i64::from(pool.max));
        self.pool_open.set(i64::from(pool.open));
        self.pool_in_use.set(i64::from(pool.in_use));
        self.pool_waiting.set(i64::try_from(pool.waiting).unwrap_or(i64::MAX));
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "metrics could not be encoded");
            String::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_are_valid_and_counted() {
        let m = Metrics::try_new().unwrap();
        m.provider_call(
            ConnectionKind::Braze,
            ProviderStep::TestCredentials,
            Err(ErrorKind::Forbidden),
            Duration::ZERO,
        );
        let text = TextEncoder::new().encode_to_string(&m.registry.gather()).unwrap();
        assert!(
            text.contains(
                r#"gateway_provider_calls_total{kind="BRAZE",outcome="forbidden",step="test_credentials"} 1"#
            ),
            "{text}"
        );
    }
}
