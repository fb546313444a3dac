//! Settings: an optional TOML file, then `GATEWAY_*` environment variables over it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use gateway_connector::OutboundSettings;
use gateway_http::JwtSecret;
use gateway_store::{EncryptionKey, Keyring, StoreOptions};
use serde::Deserialize;

/// Every setting, with its environment variable. TOML keys are the same names in lower case
/// without the `GATEWAY_` prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    jwt_secret: Option<String>,
    jwt_public_keys_file: Option<PathBuf>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    jwt_hs256: Option<bool>,
    jwt_max_lifetime_secs: Option<u64>,
    trusted_proxies: Option<String>,
    encryption_key: Option<String>,
    encryption_old_keys: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    workers: Option<usize>,
    db_pool_size: Option<u32>,
    db_timeout_secs: Option<u64>,
    connector_timeout_secs: Option<u64>,
    outbound_allow_private: Option<bool>,
    outbound_connect_timeout_secs: Option<u64>,
    outbound_timeout_secs: Option<u64>,
    /// Deprecated: `provider_urls.S3`.
    s3_endpoint: Option<String>,
    /// Deprecated: `provider_urls.GCS`.
    gcs_endpoint: Option<String>,
    /// Deprecated: `provider_urls.GOOGLE_OAUTH`.
    gcs_token_url: Option<String>,
    /// `[provider_urls]`: a local peer per provider, as `GATEWAY_PROVIDER_<NAME>_URL`.
    provider_urls: Option<std::collections::BTreeMap<String, String>>,
    local_storage_url: Option<String>,
    local_storage_endpoint: Option<String>,
    public_url: Option<String>,
    upload_max_bytes: Option<u64>,
    upload_idle_timeout_secs: Option<u64>,
    connector_concurrency: Option<usize>,
    org_connector_concurrency: Option<usize>,
    org_tests_per_minute: Option<u32>,
    blocking_threads: Option<usize>,
    scheduler: Option<bool>,
    check_interval_secs: Option<u64>,
    /// `[check_org_intervals]`: seconds per organization id.
    check_org_intervals: Option<std::collections::BTreeMap<String, u64>>,
    check_concurrency: Option<usize>,
    check_org_concurrency: Option<usize>,
    check_lease_secs: Option<u64>,
    delivery_concurrency: Option<usize>,
    delivery_org_concurrency: Option<usize>,
    org_max_webhooks: Option<u64>,
    org_max_tables: Option<u64>,
    org_max_pending_deliveries: Option<u64>,
    previews_in_flight: Option<usize>,
    org_uploads: Option<usize>,
    org_upload_bytes: Option<u64>,
    org_row_reads: Option<usize>,
    backend_secrets: Option<String>,
    row_read_mb: Option<u64>,
    row_split_mb: Option<u64>,
    scheduler_tick_ms: Option<u64>,
    audit_retention_days: Option<u32>,
    schema_retention_days: Option<u32>,
    validation_concurrency: Option<usize>,
    org_validations: Option<usize>,
    validation_memory_mb: Option<u64>,
    validation_spill_mb: Option<u64>,
    validation_billed_mb: Option<u64>,
    validation_timeout_secs: Option<u64>,
    validation_retention_days: Option<u32>,
    fileset_max_files: Option<usize>,
}

pub struct Settings {
    pub bind: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    jwt_secret: Option<String>,
    jwt_public_keys_file: Option<PathBuf>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    /// `GATEWAY_JWT_HS256`: HS256 tokens accepted; `None`: yes unless issuers are configured.
    jwt_hs256: Option<bool>,
    jwt_max_lifetime_secs: u64,
    /// `GATEWAY_TRUSTED_PROXIES`: addresses whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    encryption_key: Option<String>,
    encryption_old_keys: Option<String>,
    pub log: String,
    pub log_json: bool,
    pub workers: Option<usize>,
    /// `GATEWAY_BLOCKING_THREADS`: database-call threads per worker; `None`: the pool's
    /// connections shared among the workers.
    blocking_threads: Option<usize>,
    pub db_pool_size: u32,
    pub db_timeout_secs: u64,
    pub connector_timeout_secs: u64,
    pub outbound_allow_private: bool,
    pub outbound_connect_timeout_secs: u64,
    pub outbound_timeout_secs: u64,
    /// `GATEWAY_PROVIDER_<NAME>_URL`: local peers, honoured only with private targets allowed.
    pub provider_urls: std::collections::BTreeMap<String, String>,
    /// Settings given under a deprecated name, logged at start.
    deprecations: Vec<String>,
    pub local_storage_url: String,
    /// `GATEWAY_LOCAL_STORAGE_ENDPOINT`: an S3-compatible endpoint for `s3://` LOCAL storage.
    pub local_storage_endpoint: Option<String>,
    pub public_url: String,
    pub upload_max_bytes: u64,
    pub upload_idle_timeout_secs: u64,
    /// `GATEWAY_BACKEND_SECRETS=masked`: backend is answered masked secrets like the other
    /// roles (the recommended production setting once pipelines read rows through the gateway).
    pub backend_secrets_masked: bool,
    pub limits: gateway_service::LimitSettings,
    /// Scheduled re-tests, webhook deliveries and audit retention.
    pub schedule: gateway_service::ScheduleSettings,
    /// How often each organization's tables and connections are re-tested.
    pub check_policy: gateway_store::CheckPolicy,
    /// What one organization may keep.
    pub quotas: gateway_store::Quotas,
    /// Whole-table validations.
    pub validation: gateway_service::ValidationSettings,
    /// `GATEWAY_FILESET_MAX_FILES`: the most files a file-set table may match.
    pub fileset_max_files: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL and the JWT secret may hold secrets: leave them out.
        f.debug_struct("Settings").field("bind", &self.bind).field("data_dir", &self.data_dir).finish_non_exhaustive()
    }
}

/// Where `GATEWAY_*` variables are read from.
enum Env {
    Process,
    Empty,
}

impl Env {
    fn get(&self, name: &str) -> Option<String> {
        match self {
            Env::Process => std::env::var(name).ok().filter(|v| !v.trim().is_empty()),
            Env::Empty => None,
        }
    }

    fn parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| anyhow::anyhow!("{name}='{v}' is not a valid value")),
        }
    }

    fn vars(&self) -> Vec<(String, String)> {
        match self {
            Env::Process => std::env::vars().collect(),
            Env::Empty => Vec::new(),
        }
    }
}

impl Settings {
    /// The settings from the file (if any), then `GATEWAY_*` variables over it.
    pub fn load(file: Option<&Path>) -> Result<Settings> {
        let f: FileSettings = match file {
            None => FileSettings::default(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("cannot read settings file {}", p.display()))?;
                // toml's own message quotes the offending line, which may hold a secret
                // (`jwt_secert = "..."`): say where and what, not the line.
                toml::from_str(&text).map_err(|e| {
                    let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                    anyhow::anyhow!("settings file {} is not valid at line {line}: {}", p.display(), e.message())
                })?
            }
        };
        Settings::resolve(f, &Env::Process)
    }

    /// The defaults, with nothing read from the environment: what a gateway embedded in a
    /// test (the test kit) starts from, its data under `data_dir`.
    pub fn defaults(data_dir: &Path) -> Result<Settings> {
        let f = FileSettings { data_dir: Some(data_dir.to_owned()), ..FileSettings::default() };
        Settings::resolve(f, &Env::Empty)
    }

    fn resolve(f: FileSettings, e: &Env) -> Result<Settings> {
        let data_dir =
            e.get("GATEWAY_DATA_DIR").map(PathBuf::from).or(f.data_dir).unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = e
            .get("GATEWAY_DATABASE_URL")
            .or(f.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("gateway.sqlite").display()));
        let log_format = e.get("GATEWAY_LOG_FORMAT").or(f.log_format).unwrap_or_else(|| "text".into());
        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => bail!("GATEWAY_LOG_FORMAT='{other}': use text or json"),
        };
        let backend_secrets = e.get("GATEWAY_BACKEND_SECRETS").or(f.backend_secrets).unwrap_or_else(|| "clear".into());
        let backend_secrets_masked = match backend_secrets.as_str() {
            "clear" => false,
            "masked" => true,
            other => bail!("GATEWAY_BACKEND_SECRETS='{other}': use clear or masked"),
        };
        let (provider_urls, deprecations) = provider_urls(
            f.provider_urls.unwrap_or_default(),
            e.vars().into_iter(),
            [
                ("GATEWAY_S3_ENDPOINT", e.get("GATEWAY_S3_ENDPOINT").or(f.s3_endpoint), "S3"),
                ("GATEWAY_GCS_ENDPOINT", e.get("GATEWAY_GCS_ENDPOINT").or(f.gcs_endpoint), "GCS"),
                ("GATEWAY_GCS_TOKEN_URL", e.get("GATEWAY_GCS_TOKEN_URL").or(f.gcs_token_url), "GOOGLE_OAUTH"),
            ],
        );
        let local_storage_url = e
            .get("GATEWAY_LOCAL_STORAGE_URL")
            .or(f.local_storage_url)
            .unwrap_or_else(|| data_dir.join("uploads").display().to_string());
        let bind = e.get("GATEWAY_BIND").or(f.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let public_url = e
            .get("GATEWAY_PUBLIC_URL")
            .or(f.public_url)
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        let global_calls = e.parse("GATEWAY_CONNECTOR_CONCURRENCY")?.or(f.connector_concurrency).unwrap_or(64);
        // Not given: 8, or the global cap when that is lower.
        let org_calls = e
            .parse("GATEWAY_ORG_CONNECTOR_CONCURRENCY")?
            .or(f.org_connector_concurrency)
            .unwrap_or(global_calls.min(8));
        let connector_timeout_secs: u64 =
            e.parse("GATEWAY_CONNECTOR_TIMEOUT_SECS")?.or(f.connector_timeout_secs).unwrap_or(30);
        let mut org_intervals = f.check_org_intervals.unwrap_or_default();
        if let Some(list) = e.get("GATEWAY_CHECK_ORG_INTERVALS") {
            org_intervals = parse_org_intervals(&list)?;
        }
        let check_policy = gateway_store::CheckPolicy {
            interval_secs: e.parse("GATEWAY_CHECK_INTERVAL_SECS")?.or(f.check_interval_secs).unwrap_or(6 * 3600) as i64,
            org_intervals: org_intervals.into_iter().map(|(k, v)| (k, v as i64)).collect(),
            ..Default::default()
        };
        let check_org_concurrency: usize =
            e.parse("GATEWAY_CHECK_ORG_CONCURRENCY")?.or(f.check_org_concurrency).unwrap_or(2);
        // A scheduled check, all its waits included, is bounded a minute past the connector's.
        let job_timeout = Duration::from_secs(connector_timeout_secs.max(1) + 60);
        let schedule = gateway_service::ScheduleSettings {
            enabled: e.parse("GATEWAY_SCHEDULER")?.or(f.scheduler).unwrap_or(true),
            tick: Duration::from_millis(e.parse("GATEWAY_SCHEDULER_TICK_MS")?.or(f.scheduler_tick_ms).unwrap_or(5000)),
            concurrency: e.parse("GATEWAY_CHECK_CONCURRENCY")?.or(f.check_concurrency).unwrap_or(16),
            org_concurrency: check_org_concurrency,
            // A claimed group must end before its lease, even when its checks run one after
            // another (one organization's connection), each up to the job timeout.
            lease_secs: e
                .parse("GATEWAY_CHECK_LEASE_SECS")?
                .or(f.check_lease_secs)
                .unwrap_or(job_timeout.as_secs() * check_org_concurrency.max(1) as u64 + 60)
                as i64,
            job_timeout,
            delivery_concurrency: e.parse("GATEWAY_DELIVERY_CONCURRENCY")?.or(f.delivery_concurrency).unwrap_or(16),
            delivery_org_concurrency: e
                .parse("GATEWAY_DELIVERY_ORG_CONCURRENCY")?
                .or(f.delivery_org_concurrency)
                .unwrap_or(4),
            audit_retention_days: e.parse("GATEWAY_AUDIT_RETENTION_DAYS")?.or(f.audit_retention_days).unwrap_or(365),
            schema_retention_days: e.parse("GATEWAY_SCHEMA_RETENTION_DAYS")?.or(f.schema_retention_days).unwrap_or(365),
            ..Default::default()
        };
        let quota = |name: &str, file: Option<u64>, default: u64| -> Result<i64> {
            Ok(e.parse::<u64>(name)?.or(file).unwrap_or(default).min(i64::MAX as u64) as i64)
        };
        let quotas = gateway_store::Quotas {
            webhooks: quota("GATEWAY_ORG_MAX_WEBHOOKS", f.org_max_webhooks, 20)?,
            tables: quota("GATEWAY_ORG_MAX_TABLES", f.org_max_tables, 10_000)?,
            pending_deliveries: quota("GATEWAY_ORG_MAX_PENDING_DELIVERIES", f.org_max_pending_deliveries, 10_000)?,
        };
        let validation = gateway_service::ValidationSettings {
            concurrency: e.parse("GATEWAY_VALIDATION_CONCURRENCY")?.or(f.validation_concurrency).unwrap_or(2),
            org_concurrency: e.parse("GATEWAY_ORG_VALIDATIONS")?.or(f.org_validations).unwrap_or(2),
            memory_mb: e.parse("GATEWAY_VALIDATION_MEMORY_MB")?.or(f.validation_memory_mb).unwrap_or(256),
            spill_mb: e.parse("GATEWAY_VALIDATION_SPILL_MB")?.or(f.validation_spill_mb).unwrap_or(10_240),
            billed_mb: e.parse("GATEWAY_VALIDATION_BILLED_MB")?.or(f.validation_billed_mb).unwrap_or(10_240),
            spill_dir: data_dir.join("spill"),
            timeout: Duration::from_secs(
                e.parse("GATEWAY_VALIDATION_TIMEOUT_SECS")?.or(f.validation_timeout_secs).unwrap_or(3600).max(1),
            ),
            retention_days: e.parse("GATEWAY_VALIDATION_RETENTION_DAYS")?.or(f.validation_retention_days).unwrap_or(30),
            ..Default::default()
        };
        let settings = Settings {
            backend_secrets_masked,
            fileset_max_files: e.parse("GATEWAY_FILESET_MAX_FILES")?.or(f.fileset_max_files).unwrap_or(100_000).max(1),
            validation,
            schedule,
            check_policy,
            quotas,
            provider_urls,
            deprecations,
            local_storage_url,
            local_storage_endpoint: e.get("GATEWAY_LOCAL_STORAGE_ENDPOINT").or(f.local_storage_endpoint),
            public_url,
            upload_max_bytes: e.parse("GATEWAY_UPLOAD_MAX_BYTES")?.or(f.upload_max_bytes).unwrap_or(5 << 30),
            upload_idle_timeout_secs: e
                .parse("GATEWAY_UPLOAD_IDLE_TIMEOUT_SECS")?
                .or(f.upload_idle_timeout_secs)
                .unwrap_or(60),
            limits: gateway_service::LimitSettings {
                global_calls,
                org_calls,
                org_tests_per_minute: e.parse("GATEWAY_ORG_TESTS_PER_MINUTE")?.or(f.org_tests_per_minute).unwrap_or(60),
                previews: e.parse("GATEWAY_PREVIEWS_IN_FLIGHT")?.or(f.previews_in_flight).unwrap_or(8),
                org_uploads: e.parse("GATEWAY_ORG_UPLOADS")?.or(f.org_uploads).unwrap_or(4),
                org_upload_bytes: e.parse("GATEWAY_ORG_UPLOAD_BYTES")?.or(f.org_upload_bytes).unwrap_or(8 << 30),
                org_row_reads: e.parse("GATEWAY_ORG_ROW_READS")?.or(f.org_row_reads).unwrap_or(2),
                row_read_mb: e.parse("GATEWAY_ROW_READ_MB")?.or(f.row_read_mb),
                row_split_mb: e.parse("GATEWAY_ROW_SPLIT_MB")?.or(f.row_split_mb).unwrap_or(64),
            },
            bind,
            data_dir,
            database_url,
            jwt_secret: e.get("GATEWAY_JWT_SECRET").or(f.jwt_secret),
            jwt_public_keys_file: e.get("GATEWAY_JWT_PUBLIC_KEYS_FILE").map(PathBuf::from).or(f.jwt_public_keys_file),
            jwt_issuer: e.get("GATEWAY_JWT_ISSUER").or(f.jwt_issuer),
            jwt_audience: e.get("GATEWAY_JWT_AUDIENCE").or(f.jwt_audience),
            jwt_hs256: e.parse("GATEWAY_JWT_HS256")?.or(f.jwt_hs256),
            jwt_max_lifetime_secs: e
                .parse("GATEWAY_JWT_MAX_LIFETIME_SECS")?
                .or(f.jwt_max_lifetime_secs)
                .unwrap_or(gateway_http::MAX_TOKEN_LIFETIME_SECS as u64),
            trusted_proxies: parse_proxies(
                &e.get("GATEWAY_TRUSTED_PROXIES").or(f.trusted_proxies).unwrap_or_default(),
            )?,
            encryption_key: e.get("GATEWAY_ENCRYPTION_KEY").or(f.encryption_key),
            encryption_old_keys: e.get("GATEWAY_ENCRYPTION_OLD_KEYS").or(f.encryption_old_keys),
            log: e.get("GATEWAY_LOG").or_else(|| e.get("RUST_LOG")).or(f.log).unwrap_or_else(|| "info".into()),
            log_json,
            workers: e.parse("GATEWAY_WORKERS")?.or(f.workers),
            blocking_threads: e.parse("GATEWAY_BLOCKING_THREADS")?.or(f.blocking_threads),
            db_pool_size: e.parse("GATEWAY_DB_POOL_SIZE")?.or(f.db_pool_size).unwrap_or(8),
            db_timeout_secs: e.parse("GATEWAY_DB_TIMEOUT_SECS")?.or(f.db_timeout_secs).unwrap_or(2),
            connector_timeout_secs,
            outbound_allow_private: e
                .parse("GATEWAY_OUTBOUND_ALLOW_PRIVATE")?
                .or(f.outbound_allow_private)
                .unwrap_or(false),
            outbound_connect_timeout_secs: e
                .parse("GATEWAY_OUTBOUND_CONNECT_TIMEOUT_SECS")?
                .or(f.outbound_connect_timeout_secs)
                .unwrap_or(5),
            outbound_timeout_secs: e.parse("GATEWAY_OUTBOUND_TIMEOUT_SECS")?.or(f.outbound_timeout_secs).unwrap_or(15),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses, naming the setting, values the gateway cannot run with (rather than quietly
    /// using something else).
    fn validate(&self) -> Result<()> {
        let positive = [
            ("GATEWAY_CHECK_INTERVAL_SECS", self.check_policy.interval_secs as u64),
            ("GATEWAY_CHECK_CONCURRENCY", self.schedule.concurrency as u64),
            ("GATEWAY_CHECK_ORG_CONCURRENCY", self.schedule.org_concurrency as u64),
            ("GATEWAY_DELIVERY_CONCURRENCY", self.schedule.delivery_concurrency as u64),
            ("GATEWAY_DELIVERY_ORG_CONCURRENCY", self.schedule.delivery_org_concurrency as u64),
            ("GATEWAY_ORG_MAX_WEBHOOKS", self.quotas.webhooks as u64),
            ("GATEWAY_ORG_MAX_TABLES", self.quotas.tables as u64),
            ("GATEWAY_ORG_MAX_PENDING_DELIVERIES", self.quotas.pending_deliveries as u64),
            ("GATEWAY_PREVIEWS_IN_FLIGHT", self.limits.previews as u64),
            ("GATEWAY_ORG_UPLOADS", self.limits.org_uploads as u64),
            ("GATEWAY_ORG_UPLOAD_BYTES", self.limits.org_upload_bytes),
            ("GATEWAY_ORG_ROW_READS", self.limits.org_row_reads as u64),
            ("GATEWAY_ROW_READ_MB", self.limits.row_read_mb.unwrap_or(1)),
            ("GATEWAY_ROW_SPLIT_MB", self.limits.row_split_mb),
            ("GATEWAY_CHECK_LEASE_SECS", self.schedule.lease_secs as u64),
            ("GATEWAY_SCHEDULER_TICK_MS", self.schedule.tick.as_millis() as u64),
            ("GATEWAY_DB_POOL_SIZE", u64::from(self.db_pool_size)),
            ("GATEWAY_DB_TIMEOUT_SECS", self.db_timeout_secs),
            ("GATEWAY_CONNECTOR_TIMEOUT_SECS", self.connector_timeout_secs),
            ("GATEWAY_OUTBOUND_CONNECT_TIMEOUT_SECS", self.outbound_connect_timeout_secs),
            ("GATEWAY_OUTBOUND_TIMEOUT_SECS", self.outbound_timeout_secs),
            ("GATEWAY_UPLOAD_MAX_BYTES", self.upload_max_bytes),
            ("GATEWAY_UPLOAD_IDLE_TIMEOUT_SECS", self.upload_idle_timeout_secs),
            ("GATEWAY_CONNECTOR_CONCURRENCY", self.limits.global_calls as u64),
            ("GATEWAY_ORG_CONNECTOR_CONCURRENCY", self.limits.org_calls as u64),
            ("GATEWAY_ORG_TESTS_PER_MINUTE", u64::from(self.limits.org_tests_per_minute)),
            ("GATEWAY_WORKERS", self.workers.map_or(1, |w| w as u64)),
            ("GATEWAY_BLOCKING_THREADS", self.blocking_threads.map_or(1, |w| w as u64)),
        ];
        for (name, value) in positive {
            if value == 0 {
                bail!("{name} is 0: it must be at least 1");
            }
        }
        if let Some((org, _)) = self.check_policy.org_intervals.iter().find(|(_, v)| **v <= 0) {
            bail!("GATEWAY_CHECK_ORG_INTERVALS gives organization '{org}' 0 seconds: each interval must be at least 1");
        }
        let batch = self.schedule.job_timeout.as_secs() as i64 * self.schedule.org_concurrency as i64;
        if self.schedule.lease_secs <= batch {
            bail!(
                "GATEWAY_CHECK_LEASE_SECS ({}) must be longer than (GATEWAY_CONNECTOR_TIMEOUT_SECS + 60) x GATEWAY_CHECK_ORG_CONCURRENCY ({batch}): a claimed group of checks must end before another gateway may take it",
                self.schedule.lease_secs,
            );
        }
        if self.limits.org_calls > self.limits.global_calls {
            bail!(
                "GATEWAY_ORG_CONNECTOR_CONCURRENCY ({}) is above GATEWAY_CONNECTOR_CONCURRENCY ({}): one organization cannot have more than the whole gateway",
                self.limits.org_calls,
                self.limits.global_calls
            );
        }
        if self.bind.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
            bail!("GATEWAY_BIND='{}' is not host:port (e.g. 127.0.0.1:8080 or 0.0.0.0:8080)", self.bind);
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            bail!(
                "GATEWAY_PUBLIC_URL='{}' must be an http:// or https:// URL (the address clients reach this gateway at)",
                self.public_url
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            bail!(
                "the log filter '{}' (GATEWAY_LOG, else RUST_LOG, else the file's `log`) is not valid (e.g. info, or gateway=debug,warn)",
                self.log
            );
        }
        // Provider URLs are only used with private targets allowed (else ignored, with a warning).
        for (name, url) in self.provider_urls.iter().filter(|_| self.outbound_allow_private) {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!(
                    "the {name} provider URL '{url}' (GATEWAY_PROVIDER_{name}_URL, its deprecated name, or `[provider_urls]` in the file) must be an http:// or https:// URL"
                );
            }
        }
        Ok(())
    }

    /// Blocking threads per HTTP worker: database calls (at most one per pooled connection at
    /// once: the service waits for a permit before it takes a thread), DNS lookups and file
    /// I/O. Tokio's default is 512.
    pub fn blocking_threads(&self) -> usize {
        self.blocking_threads.unwrap_or(16).max(1)
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.db_pool_size,
            acquire_timeout: Duration::from_secs(self.db_timeout_secs.max(1)),
        }
    }

    pub fn outbound(&self) -> OutboundSettings {
        OutboundSettings {
            allow_private: self.outbound_allow_private,
            connect_timeout: Duration::from_secs(self.outbound_connect_timeout_secs.max(1)),
            total_timeout: Duration::from_secs(self.outbound_timeout_secs.max(1)),
            provider_urls: self.provider_urls.clone(),
            ..OutboundSettings::default()
        }
    }

    /// Logs settings given under a deprecated name, and peers that will be ignored.
    pub fn log_deprecations(&self) {
        for d in &self.deprecations {
            tracing::warn!("{d}");
        }
        if !self.provider_urls.is_empty() && !self.outbound_allow_private {
            tracing::warn!(
                peers = ?self.provider_urls.keys().collect::<Vec<_>>(),
                "GATEWAY_PROVIDER_*_URL are ignored: they need GATEWAY_OUTBOUND_ALLOW_PRIVATE=true"
            );
        }
    }

    pub fn connector_timeout(&self) -> Duration {
        Duration::from_secs(self.connector_timeout_secs.max(1))
    }

    /// The bearer-token verifier: the HS256 secret (`GATEWAY_JWT_SECRET`, or a generated one), the token
    /// issuers' public keys of `GATEWAY_JWT_PUBLIC_KEYS_FILE` (PEM or JWKS), and the `iss`/`aud`
    /// every token must carry (`GATEWAY_JWT_ISSUER`, `GATEWAY_JWT_AUDIENCE`).
    pub fn jwt_secret(&self) -> Result<JwtSecret> {
        // With issuers configured, HS256 is off unless asked for (and then no secret is ever
        // generated for it: `GATEWAY_JWT_SECRET` must be given).
        let hs256 = self.jwt_hs256.unwrap_or(self.jwt_public_keys_file.is_none());
        if !hs256 && self.jwt_public_keys_file.is_none() {
            bail!("GATEWAY_JWT_HS256=false needs GATEWAY_JWT_PUBLIC_KEYS_FILE: no token could be verified");
        }
        if hs256 && self.jwt_public_keys_file.is_some() && self.jwt_secret.is_none() {
            bail!("GATEWAY_JWT_HS256=true beside token issuers needs GATEWAY_JWT_SECRET (no secret is generated then)");
        }
        let mut secret = if hs256 { self.hs_secret()? } else { JwtSecret::issuers_only() };
        secret = secret.with_max_lifetime(self.jwt_max_lifetime_secs.min(i64::MAX as u64) as i64);
        if let Some(path) = &self.jwt_public_keys_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read GATEWAY_JWT_PUBLIC_KEYS_FILE {}", path.display()))?;
            secret = secret
                .with_public_keys(&text)
                .map_err(|e| anyhow::anyhow!("GATEWAY_JWT_PUBLIC_KEYS_FILE {}: {e}", path.display()))?;
        }
        Ok(secret.with_issuer(self.jwt_issuer.clone()).with_audience(self.jwt_audience.clone()))
    }

    /// `GATEWAY_JWT_SECRET`, or a development secret generated once into the data dir (mode
    /// 0600) with a warning.
    fn hs_secret(&self) -> Result<JwtSecret> {
        if let Some(s) = &self.jwt_secret {
            // A short secret lets anyone forge tokens: refuse to start, not warn.
            if s.len() < MIN_SECRET_BYTES {
                bail!(
                    "GATEWAY_JWT_SECRET is {} bytes: it must be at least {MIN_SECRET_BYTES} (e.g. `openssl rand -hex 32`)",
                    s.len()
                );
            }
            return Ok(JwtSecret::new(s.as_bytes().to_vec()));
        }
        let path = self.data_dir.join("jwt-secret");
        let secret = read_or_create_secret(&path, || {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a secret: {e}"))?;
            Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
        })?;
        tracing::warn!(
            path = %path.display(),
            "GATEWAY_JWT_SECRET is not set: using a development secret generated into the data dir; set it in production"
        );
        Ok(JwtSecret::new(secret.into_bytes()))
    }

    /// The key LOCAL upload URLs are signed with: derived from the HS256 secret, or (HS256
    /// off) from the encryption key, which every replica shares too.
    pub fn upload_key(&self, secret: &JwtSecret) -> Result<gateway_service::UploadKey> {
        match secret.upload_key() {
            Some(k) => Ok(k),
            None => {
                let mut material = self.encryption_key_text()?.into_bytes();
                material.extend_from_slice(b"|upload-urls");
                Ok(gateway_service::UploadKey::derive(&material))
            }
        }
    }

    /// `GATEWAY_ENCRYPTION_KEY`, or the key generated once into the data dir (mode 0600).
    fn encryption_key_text(&self) -> Result<String> {
        match &self.encryption_key {
            Some(k) => Ok(k.clone()),
            None => {
                let path = self.data_dir.join("encryption-key");
                let text = read_or_create_secret(&path, || {
                    EncryptionKey::generate().map(|(_, text)| text).map_err(anyhow::Error::from)
                })?;
                tracing::warn!(
                    path = %path.display(),
                    "GATEWAY_ENCRYPTION_KEY is not set: credentials are sealed with a key generated into the data dir; back it up, or set the variable"
                );
                Ok(text)
            }
        }
    }

    /// The keyring that seals credentials: `GATEWAY_ENCRYPTION_KEY` (base64 of 32 bytes) and the
    /// comma-separated `GATEWAY_ENCRYPTION_OLD_KEYS`, or a key generated once into the data dir
    /// (mode 0600) with a warning.
    pub fn keyring(&self) -> Result<Keyring> {
        let text = self.encryption_key_text()?;
        let current = EncryptionKey::from_base64(&text).context(if self.encryption_key.is_some() {
            "GATEWAY_ENCRYPTION_KEY".to_owned()
        } else {
            format!("the key in {}", self.data_dir.join("encryption-key").display())
        })?;
        let old = self
            .encryption_old_keys
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, k)| {
                EncryptionKey::from_base64(k).with_context(|| format!("GATEWAY_ENCRYPTION_OLD_KEYS, key {}", i + 1))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Keyring::new(current, old))
    }
}

/// One way to point a provider at a peer: the file's `[provider_urls]`, then every
/// `GATEWAY_CHECK_ORG_INTERVALS`: `org=seconds` pairs separated by commas.
fn parse_org_intervals(list: &str) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut out = std::collections::BTreeMap::new();
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((org, secs)) = pair.rsplit_once('=') else {
            bail!("GATEWAY_CHECK_ORG_INTERVALS: '{pair}' is not org=seconds (e.g. acme=3600,globex=86400)");
        };
        let secs = secs.trim().parse::<u64>().map_err(|_| {
            anyhow::anyhow!("GATEWAY_CHECK_ORG_INTERVALS: the interval of '{}' is not a number of seconds", org.trim())
        })?;
        out.insert(org.trim().to_owned(), secs);
    }
    Ok(out)
}

/// `GATEWAY_PROVIDER_<NAME>_URL`; the old per-provider names still work where the new one is
/// not given, each with a deprecation to log.
fn provider_urls<const N: usize>(
    from_file: std::collections::BTreeMap<String, String>,
    vars: impl Iterator<Item = (String, String)>,
    deprecated: [(&str, Option<String>, &str); N],
) -> (std::collections::BTreeMap<String, String>, Vec<String>) {
    let mut urls = from_file;
    urls.extend(OutboundSettings::provider_urls_from_env(vars));
    let mut deprecations = Vec::new();
    for (old, value, name) in deprecated {
        if let Some(v) = value {
            deprecations.push(format!("{old} is deprecated: use GATEWAY_PROVIDER_{name}_URL"));
            urls.entry(name.to_owned()).or_insert(v);
        }
    }
    (urls, deprecations)
}

/// The shortest secret (bearer-token key, generated keys) the gateway starts with.
const MIN_SECRET_BYTES: usize = 32;

/// `GATEWAY_TRUSTED_PROXIES`: IP addresses separated by commas.
fn parse_proxies(list: &str) -> Result<Vec<std::net::IpAddr>> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|_| {
                anyhow::anyhow!("GATEWAY_TRUSTED_PROXIES: '{p}' is not an IP address (list the proxies' addresses, e.g. 10.0.0.5,10.0.0.6)")
            })
        })
        .collect()
}

/// Makes the data dir (it holds the database, keys and uploads) readable by its owner alone,
/// and the SQLite files in it too, whatever the umask: at every start.
pub fn secure_data_dir(settings: &Settings) -> Result<()> {
    private_dir(&settings.data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let db =
            settings.database_url.strip_prefix("sqlite://").or_else(|| settings.database_url.strip_prefix("sqlite:"));
        let db = db.or_else(|| (!settings.database_url.contains("://")).then_some(settings.database_url.as_str()));
        if let Some(path) = db.filter(|p| *p != ":memory:") {
            for suffix in ["", "-wal", "-shm"] {
                let file = std::path::PathBuf::from(format!("{path}{suffix}"));
                if file.exists() {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                        .with_context(|| format!("cannot make {} private", file.display()))?;
                }
            }
        }
    }
    Ok(())
}

/// Creates the data dir readable by its owner alone (it holds the database and keys).
fn private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(())
}

/// Reads a generated secret, or creates it with `generate` (mode 0600) when absent. The file is
/// written whole under a temporary name and then linked into place, so a full disk or two
/// processes starting together never leave a short secret behind; a short or empty one found
/// (an older gateway's torn write) stops start-up rather than being used.
fn read_or_create_secret(path: &Path, generate: impl FnOnce() -> Result<String>) -> Result<String> {
    let read = |path: &Path| -> Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(s) => {
                let s = s.trim().to_owned();
                if s.len() < MIN_SECRET_BYTES {
                    bail!(
                        "{} holds {} bytes, not a whole secret (a write cut short?): delete it to generate a new one, or set the variable",
                        path.display(),
                        s.len()
                    );
                }
                Ok(Some(s))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    };
    if let Some(s) = read(path)? {
        return Ok(s);
    }
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let secret = generate()?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(secret.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    // `hard_link` fails if the secret exists: another process was first, and its secret wins.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| anyhow::anyhow!("{} vanished while starting", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

pub fn init_tracing(settings: &Settings) {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // A line when each request's span closes: the access log, with status and latency.
    let layer = fmt::layer().with_writer(std::io::stderr).with_span_events(FmtSpan::CLOSE);
    let layer = if settings.log_json { layer.json().boxed() } else { layer.boxed() };
    let layer = layer.with_filter(filter).with_filter(filter_fn(|m| gateway_connector::may_log(m.target(), m.level())));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example file of docs/configuration.md is one the gateway reads.
    #[test]
    fn the_documented_settings_file_is_valid() {
        let doc = include_str!("../../../docs/configuration.md");
        let example = doc.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        let f: FileSettings = toml::from_str(example).unwrap();
        assert_eq!(f.db_pool_size, Some(16));
        assert!(toml::from_str::<FileSettings>("conector_timeout_secs = 5").is_err(), "unknown keys are refused");
    }

    #[test]
    fn short_or_torn_secrets_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/jwt-secret");
        let made = read_or_create_secret(&path, || Ok("x".repeat(64))).unwrap();
        assert_eq!(made.len(), 64);
        assert_eq!(read_or_create_secret(&path, || Ok("other".repeat(20))).unwrap(), made, "the first one stays");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(dir.path().join("data")).unwrap().permissions().mode() & 0o777, 0o700);
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "").unwrap();
        let err = read_or_create_secret(&path, || Ok("y".repeat(64))).unwrap_err();
        assert!(err.to_string().contains("not a whole secret"), "{err}");
        std::fs::write(&path, "short").unwrap();
        assert!(read_or_create_secret(&path, || Ok("y".repeat(64))).is_err());
    }

    #[test]
    fn provider_urls_new_names_win_and_old_names_still_work_with_a_warning() {
        let file = [("BRAZE".to_owned(), "http://127.0.0.1:1".to_owned())].into_iter().collect();
        let vars = [
            ("GATEWAY_PROVIDER_S3_URL", "http://127.0.0.1:2"),
            ("GATEWAY_PROVIDER__URL", "http://ignored"),
            ("GATEWAY_PROVIDER_GCS_URL", " "),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (urls, deprecations) = provider_urls(
            file,
            vars.into_iter(),
            [
                ("GATEWAY_S3_ENDPOINT", Some("http://old-s3".to_owned()), "S3"),
                ("GATEWAY_GCS_TOKEN_URL", Some("http://old-token".to_owned()), "GOOGLE_OAUTH"),
                ("GATEWAY_GCS_ENDPOINT", None, "GCS"),
            ],
        );
        assert_eq!(urls.get("BRAZE").map(String::as_str), Some("http://127.0.0.1:1"));
        assert_eq!(urls.get("S3").map(String::as_str), Some("http://127.0.0.1:2"), "the new name wins");
        assert_eq!(urls.get("GOOGLE_OAUTH").map(String::as_str), Some("http://old-token"));
        assert!(!urls.contains_key("GCS") && !urls.contains_key(""));
        assert_eq!(deprecations.len(), 2);
        assert!(deprecations[0].contains("GATEWAY_PROVIDER_S3_URL"), "{deprecations:?}");
    }
}
