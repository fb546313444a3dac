//! What the gateway does, one function per use case, without HTTP: put, test and delete a
//! connection; patch, get, delete, preview and test a table; receive a LOCAL upload.
//!
//! Each use case is a method of [`Gateway`] over the store, the connector [`Registry`] and
//! the rules of `gateway-preview`. It takes domain values (organization, role, kind, name, a
//! JSON body) and answers domain records or a [`Problem`] carrying the contract's error name;
//! the HTTP layer only translates. A Rust service embeds the same calls:
//!
//! ```
//! use gateway_connector::Registry;
//! use gateway_domain::{Actor, ConnectionKind, OrganizationId, Role, TableName};
//! use gateway_service::{Gateway, ServiceSettings};
//! use gateway_store::{Keyring, Store, StoreOptions};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("gateway.sqlite").display());
//! let store = Store::open(&url, &StoreOptions::default(), Keyring::ephemeral())?;
//! store.migrate()?;
//! // The binary registers every connector; an embedder registers those it needs.
//! let gateway = Gateway::new(store, Registry::new(), ServiceSettings::default());
//!
//! let org = OrganizationId::parse("acme")?;
//! let body = json!({"credentials": {"api_key": "k-123"}});
//! let me = Actor::user("ops@acme", Role::Manager);
//! let saved = gateway.put_connection(&org, &me, ConnectionKind::Braze, body).await?;
//! assert_eq!(saved.credentials["api_key"], "********", "secrets are masked but for backend");
//!
//! let name = TableName::parse("recos")?;
//! let table = gateway
//!     .patch_table(&org, &me, ConnectionKind::Braze, &name, json!({"resource": "user_to_items_reco"}))
//!     .await?;
//! assert_eq!(table.status.as_str(), "available");
//! let page = gateway.filter_tables(&org, Some(ConnectionKind::Braze), None, Default::default()).await?;
//! assert_eq!(page.tables.len(), 1);
//! // Who did it, field names only.
//! let trail = gateway.audit(&org, Default::default()).await?;
//! assert_eq!(trail.entries[0].action, "table.create");
//! assert_eq!(trail.entries[1].fields, ["credentials.api_key"]);
//! # Ok(())
//! # }
//! ```

mod connections;
mod limits;
pub mod metrics;
mod rows;
mod scheduler;
mod tables;
mod uploads;
mod validations;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use gateway_connector::{Connector, ConnectorError, ErrorKind, Registry};
use gateway_domain::{ConnectionKind, ErrorName, Problem};
use gateway_store::{Store, StoreError};

pub use gateway_connector::{CredentialCheck, Step, StepOutcome};
pub use gateway_engine::{Columns as RowColumns, Format as RowFormat, Invalid as RowInvalid};
pub use limits::LimitSettings;
pub use metrics::{Metrics, ProviderStep};
pub use rows::{RowsAnswer, RowsRequest};
pub use scheduler::ScheduleSettings;
pub use uploads::{UPLOAD_TTL_SECONDS, UploadKey, verify as verify_upload_token};
pub use validations::ValidationSettings;
pub use webhooks::DeliveryReport;

/// What the use cases need to know of the operator's settings.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The longest a connector call (a credential test, an inspection) may take.
    pub connector_timeout: Duration,
    /// The operator's `GATEWAY_OUTBOUND_ALLOW_PRIVATE`: host fields may name private hosts.
    pub outbound_allow_private: bool,
    /// The gateway's address as clients reach it, for LOCAL tables' upload URLs.
    pub public_url: String,
    /// The largest file a LOCAL upload may send.
    pub upload_max_bytes: u64,
    /// Signs LOCAL tables' upload URLs.
    pub upload_key: UploadKey,
    /// How long an upload may send nothing before it is given up.
    pub upload_idle_timeout: Duration,
    /// Provider calls per organization and in all.
    pub limits: LimitSettings,
    /// Scheduled re-tests, webhook deliveries, audit retention.
    pub schedule: ScheduleSettings,
    /// Whole-table validations: caps, concurrency, retention.
    pub validation: ValidationSettings,
    /// Whether `backend` is answered secrets masked like the other roles
    /// (`GATEWAY_BACKEND_SECRETS=masked`).
    pub backend_secrets_masked: bool,
}

impl Default for ServiceSettings {
    /// For embedding and tests: a random upload key, uploads addressed to localhost.
    fn default() -> Self {
        ServiceSettings {
            connector_timeout: Duration::from_secs(30),
            outbound_allow_private: false,
            public_url: "http://127.0.0.1:8080".into(),
            upload_max_bytes: 1 << 30,
            upload_key: UploadKey::random(),
            upload_idle_timeout: Duration::from_secs(60),
            limits: LimitSettings::default(),
            schedule: ScheduleSettings::default(),
            validation: ValidationSettings::default(),
            backend_secrets_masked: false,
        }
    }
}

/// The gateway's use cases over one store and one registry. Cheap to clone; share one.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    registry: Registry,
    settings: ServiceSettings,
    limits: limits::Limits,
    metrics: Metrics,
    /// Webhook deliveries' client: the outbound guard's, with the delivery timeout.
    webhook_client: gateway_connector::OutboundClient,
    /// One permit per pooled database connection: a call waits here (a task, not a thread)
    /// until a connection is likely free, so blocking threads never queue on the pool.
    db_permits: Arc<tokio::sync::Semaphore>,
}

impl Gateway {
    /// The use cases over `store` and `registry`. Webhook deliveries go through a guarded
    /// client of their own (`gateway_connector::webhook::client`).
    #[allow(clippy::expect_used, reason = "building a reqwest client fails only without a TLS backend, a build error")]
    pub fn new(store: Store, registry: Registry, settings: ServiceSettings) -> Gateway {
        let limits = limits::Limits::new(settings.limits);
        let webhook_client =
            gateway_connector::webhook::client(settings.outbound_allow_private).expect("the HTTP client builds");
        let db_permits = Arc::new(tokio::sync::Semaphore::new(store.pool_state().max.max(1) as usize));
        Gateway {
            inner: Arc::new(Inner {
                store,
                registry,
                settings,
                limits,
                metrics: Metrics::new(),
                webhook_client,
                db_permits,
            }),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn settings(&self) -> &ServiceSettings {
        &self.inner.settings
    }

    /// What this gateway counts (see [`metrics`]).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The metrics in the Prometheus text format ([`metrics::CONTENT_TYPE`]), the database
    /// pool read now.
    pub fn render_metrics(&self) -> String {
        self.inner.metrics.api_versions(&self.inner.registry);
        self.inner.metrics.render(&self.inner.store)
    }

    /// The database answers.
    pub async fn ready(&self) -> Result<(), Problem> {
        self.db(|s| s.ping()).await
    }

    /// Runs a store call on the blocking pool, off the async workers.
    async fn db<T, F>(&self, f: F) -> Result<T, Problem>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.inner.store.clone();
        // Waiting for a permit is waiting for a pooled connection: bounded the same way.
        let permit = tokio::time::timeout(store.acquire_timeout(), self.inner.db_permits.clone().acquire_owned()).await;
        let Ok(Ok(_permit)) = permit else {
            return Err(store_problem(StoreError::Unavailable("no database connection was free in time".into())));
        };
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r.map_err(store_problem),
            Err(_) => Err(store_problem(StoreError::Unavailable("the blocking pool is shut down".into()))),
        }
    }

    fn connector(&self, kind: ConnectionKind) -> Result<Arc<dyn Connector>, Problem> {
        self.inner.registry.get(kind).cloned().ok_or_else(|| connector_unavailable(kind))
    }

    /// Admits one of `org`'s provider calls (a test or a preview), or refuses it with 429.
    async fn admit(&self, org: &gateway_domain::OrganizationId) -> Result<limits::Admitted, Problem> {
        self.inner.limits.admit(org, self.inner.settings.connector_timeout).await
    }

    /// Awaits a connector call within the configured timeout, and counts it: `failed` tells
    /// the failure an `Ok` answer reports (a credential check's failed step).
    async fn bounded<T>(
        &self,
        kind: ConnectionKind,
        step: ProviderStep,
        fut: impl std::future::Future<Output = Result<T, ConnectorError>>,
        failed: impl FnOnce(&T) -> Option<ErrorKind>,
    ) -> Result<T, ConnectorError> {
        use futures_util::FutureExt;
        let limit = self.inner.settings.connector_timeout;
        let started = std::time::Instant::now();
        // A connector that panics (on a provider's answer it misreads) fails this call only.
        let guarded = std::panic::AssertUnwindSafe(fut).catch_unwind();
        let result = match tokio::time::timeout(limit, guarded).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => {
                tracing::error!(connection = %kind, step = step.as_str(), "a connector panicked");
                Err(ConnectorError::new(
                    ErrorKind::Unknown,
                    "the connector failed on the provider's answer (a fault of the gateway's, logged): retry later",
                ))
            }
            Err(_) => Err(ConnectorError::new(
                ErrorKind::Timeout,
                format!("the provider did not answer within {} s", limit.as_secs()),
            )),
        };
        let outcome = match &result {
            Ok(t) => failed(t).map_or(Ok(()), Err),
            Err(e) => Err(e.kind),
        };
        self.inner.metrics.provider_call(kind, step, outcome, started.elapsed());
        result
    }
}

/// A store failure as the caller sees it: the cause is logged here, never shown.
fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Rejected(p) => p,
        StoreError::Unavailable(cause) => {
            tracing::warn!(%cause, "database unavailable");
            Problem::new(ErrorName::ServiceUnavailable, "the database is unavailable; retry in a moment")
        }
        StoreError::Sealing(cause) => {
            tracing::error!(%cause, "stored credentials cannot be opened");
            Problem::new(
                ErrorName::InternalError,
                "a stored connection is sealed with a key this gateway does not have: every replica needs the same GATEWAY_ENCRYPTION_KEY (and GATEWAY_ENCRYPTION_OLD_KEYS)",
            )
        }
        other => {
            tracing::error!(error = %other, "store failure");
            Problem::new(ErrorName::InternalError, "the gateway failed to read or write its database")
        }
    }
}

/// A provider failure as the caller sees it (see `gateway_preview::problem_for`), its cause
/// logged.
fn connector_problem(e: &ConnectorError) -> Problem {
    if let Some(cause) = std::error::Error::source(e) {
        tracing::debug!(kind = %e.kind, %cause, "provider call failed");
    }
    gateway_preview::problem_for(e)
}

/// What a provider said, made safe to show and log: every value of a secret credential field
/// the text quotes (a provider may echo a refused key back) replaced by the mask, and the text
/// cut to a readable length.
pub(crate) fn scrub(
    text: &str,
    connector: &dyn Connector,
    credentials: Option<&gateway_domain::Credentials>,
) -> String {
    const MAX: usize = 500;
    let mut out = text.to_owned();
    if let Some(c) = credentials {
        for (field, value) in c.expose() {
            if let Some(v) = value.as_str().map(str::trim).filter(|v| v.len() >= 4)
                && connector.credential_spec().is_secret(field)
            {
                out = out.replace(v, gateway_domain::MASK);
            }
        }
    }
    if out.chars().count() > MAX {
        out = out.chars().take(MAX).collect::<String>() + "...";
    }
    out
}

pub(crate) fn connector_unavailable(kind: ConnectionKind) -> Problem {
    Problem::new(
        ErrorName::ConnectorUnavailable,
        format!("the gateway has no {kind} connector yet: connections can be stored, not tested or previewed"),
    )
    .with("connection", kind.as_str())
}

pub(crate) fn connection_not_found(kind: ConnectionKind) -> Problem {
    Problem::new(ErrorName::ConnectionNotFound, format!("no {kind} connection is stored for this organization"))
        .with("connection", kind.as_str())
}
