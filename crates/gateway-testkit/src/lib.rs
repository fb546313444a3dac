//! Test support for the gateway's black-box tests: [`TestApp`] spawns the real HTTP server on
//! port 0 over a fresh database (a SQLite file, or a PostgreSQL schema of its own under
//! `TEST_DATABASE_URL`), and [`Api`] talks to it as a client would.
//!
//! A peer a test needs that is missing makes it print `SKIPPED: <reason>` and return; with
//! `CI` set it fails instead, so nothing hides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

pub mod conformance;
pub mod files;
mod mock;
mod peers;
mod postgres;
#[cfg(feature = "scripted")]
mod scripted;
mod trace;

use std::net::TcpListener;
use std::time::Duration;

use gateway_connector::{OutboundSettings, Registry};
use gateway_http::JwtSecret;
use gateway_service::Gateway;
use gateway_store::{Keyring, Store, StoreOptions};
use serde_json::Value;

pub use mock::{MockProvider, Recorded, Reply};
pub use peers::{BqPeer, GcsPeer, S3Peer, TestKey, TokenServer, browser, pyarrow, render_page};
pub use postgres::PrivatePostgres;
#[cfg(feature = "scripted")]
pub use scripted::ScriptedConnector;
pub use trace::{SECRETS_FILE, TRACE_DIR_ENV};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Reports a missing peer: `SKIPPED` on its own line, or a failure under CI.
/// An audit entry's `fields`, as text.
pub fn fields_of(entry: &Value) -> Vec<String> {
    entry["fields"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

pub fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("a peer this test needs is missing under CI: {reason}");
    }
    println!("SKIPPED: {reason}");
    // Test runners hide a passing test's output: `make test` lists this file at the end.
    if let Some(path) = std::env::var_os("GATEWAY_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let test = std::thread::current().name().unwrap_or("?").to_owned();
            let _ = writeln!(f, "SKIPPED: {test}: {reason}");
        }
    }
}

/// `TEST_DATABASE_URL`, or `None` after reporting the skip.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        // Loopback needs no TLS; and libpq's OpenSSL tear-down at exit() races the threads of
        // servers still running in a finished test process (seen: "double free" aborts).
        Ok(u) if !u.trim().is_empty() && !u.contains("sslmode=") => {
            Some(format!("{u}{}sslmode=disable", if u.contains('?') { '&' } else { '?' }))
        }
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            skip("TEST_DATABASE_URL is not set (make test sets it when PostgreSQL answers on 127.0.0.1:5432)");
            None
        }
    }
}

/// A database of the test's own, dropped with it.
pub struct TestDb {
    pub url: String,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(Store, String)>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("db", &self.db).finish_non_exhaustive()
    }
}

impl TestDb {
    /// A fresh, empty database; `None` (after `SKIPPED`) when PostgreSQL is not configured.
    pub fn create(db: Db) -> Option<TestDb> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("gateway.sqlite").display());
                Some(TestDb { url, db, _dir: Some(dir), schema: None })
            }
            Db::Postgres => {
                let base = postgres_url()?;
                let admin = Store::open(
                    &base,
                    &StoreOptions { max_connections: 1, ..Default::default() },
                    Keyring::ephemeral(),
                )
                .expect("TEST_DATABASE_URL is not a usable URL");
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                admin
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap_or_else(|e| panic!("cannot create a schema on TEST_DATABASE_URL: {e}"));
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Some(TestDb { url, db, _dir: None, schema: Some((admin, schema)) })
            }
        }
    }
}

impl TestDb {
    /// A database the test manages itself (a private server): nothing is dropped with it.
    /// The PostgreSQL schema this database lives in.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_ref().map(|(_, s)| s.as_str())
    }

    pub fn external(url: String, db: Db) -> TestDb {
        TestDb { url, db, _dir: None, schema: None }
    }

    /// The same database, for a second gateway (a replica): it owns nothing, the original
    /// cleans up.
    pub fn alias(&self) -> TestDb {
        TestDb { url: self.url.clone(), db: self.db, _dir: None, schema: None }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, schema)) = &self.schema {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// The gateway, serving on 127.0.0.1 on a free port.
pub struct TestApp {
    pub address: String,
    /// The use cases it serves, for tests that look past HTTP (its registry).
    pub gateway: Gateway,
    pub store: Store,
    pub secret: JwtSecret,
    pub db: TestDb,
    /// The LOCAL storage folder of the real registry.
    pub local_dir: Option<tempfile::TempDir>,
    /// The gateway's spill folder (the data folder's `spill/` in the binary), the test's own.
    pub spill_dir: tempfile::TempDir,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").field("address", &self.address).finish_non_exhaustive()
    }
}

/// Which connectors a test gateway serves.
enum Connectors {
    /// The binary's list (`gateway::registry`), on a LOCAL folder of the test's own; with
    /// `true`, the scripted connector in place of the one on its kind.
    Real(bool),
    Given(Registry),
}

/// Builds a [`TestApp`]: the database, the connectors (the binary's own list unless told
/// otherwise), the keys, and the outbound rules the operator would set.
pub struct TestAppBuilder {
    db: Option<TestDb>,
    which: Db,
    connectors: Connectors,
    keys: Keyring,
    store_options: StoreOptions,
    outbound: OutboundSettings,
    connector_timeout: Duration,
    limits: gateway_service::LimitSettings,
    backend_secrets_masked: bool,
    schedule: gateway_service::ScheduleSettings,
    check_policy: gateway_store::CheckPolicy,
    validation_memory_mb: Option<u64>,
    validation_billed_mb: Option<u64>,
    fileset_max_files: Option<usize>,
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder").field("db", &self.which).finish_non_exhaustive()
    }
}

impl TestAppBuilder {
    /// A fresh database of this kind (the default is SQLite).
    pub fn db(mut self, db: Db) -> Self {
        self.which = db;
        self
    }

    /// A database made by the test (a private server, a replica's alias).
    pub fn on(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// These connectors instead of the binary's list.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.connectors = Connectors::Given(registry);
        self
    }

    /// The binary's connectors with the scripted one on SHOPIFY (whose credentials the
    /// spec's own PUT example matches): for tests of the gateway's own plumbing.
    #[cfg(feature = "scripted")]
    pub fn scripted(mut self) -> Self {
        self.connectors = Connectors::Real(true);
        self
    }

    pub fn keys(mut self, keys: Keyring) -> Self {
        self.keys = keys;
        self
    }

    pub fn store_options(mut self, options: StoreOptions) -> Self {
        self.store_options = options;
        self
    }

    /// The operator's `GATEWAY_OUTBOUND_ALLOW_PRIVATE=true`: providers may be local peers.
    pub fn allow_private(mut self) -> Self {
        self.outbound.allow_private = true;
        self
    }

    /// `GATEWAY_PROVIDER_<NAME>_URL` (with [`TestAppBuilder::allow_private`], else ignored as
    /// in production).
    pub fn provider_url(mut self, name: &str, url: &str) -> Self {
        self.outbound.provider_urls.insert(name.to_owned(), url.to_owned());
        self
    }

    /// The operator's `GATEWAY_CONNECTOR_TIMEOUT_SECS` (5 s by default here).
    pub fn connector_timeout(mut self, limit: Duration) -> Self {
        self.connector_timeout = limit;
        self
    }

    /// The operator's limits on provider calls (generous by default here: tests run many).
    /// `GATEWAY_BACKEND_SECRETS=masked`.
    pub fn backend_secrets_masked(mut self) -> Self {
        self.backend_secrets_masked = true;
        self
    }

    pub fn limits(mut self, limits: gateway_service::LimitSettings) -> Self {
        self.limits = limits;
        self
    }

    /// Runs the schedule (re-tests, webhook deliveries) with these settings; off by default
    /// here, so that only the tests of the schedule have it.
    pub fn schedule(mut self, schedule: gateway_service::ScheduleSettings) -> Self {
        self.schedule = schedule;
        self
    }

    /// The schedule on with a 100 ms tick: queued validations (and scheduled checks) run
    /// promptly.
    pub fn validating(self) -> Self {
        self.schedule(gateway_service::ScheduleSettings {
            enabled: true,
            tick: std::time::Duration::from_millis(100),
            ..Default::default()
        })
    }

    /// The operator's `GATEWAY_FILESET_MAX_FILES` (100,000 by default).
    pub fn fileset_max_files(mut self, max: usize) -> Self {
        self.fileset_max_files = Some(max);
        self
    }

    /// The operator's `GATEWAY_VALIDATION_MEMORY_MB` (256 by default).
    pub fn validation_memory_mb(mut self, mb: u64) -> Self {
        self.validation_memory_mb = Some(mb);
        self
    }

    /// What a validation run in place may bill (the operator's `GATEWAY_VALIDATION_BILLED_MB`).
    pub fn validation_billed_mb(mut self, mb: u64) -> Self {
        self.validation_billed_mb = Some(mb);
        self
    }

    /// How often things are re-tested (the operator's `GATEWAY_CHECK_INTERVAL_SECS`, ...).
    pub fn check_policy(mut self, policy: gateway_store::CheckPolicy) -> Self {
        self.check_policy = policy;
        self
    }

    /// Spawns it through the binary's own composition root ([`gateway::app::App`]) with the
    /// settings the test asked for; `None` (after SKIPPED) when PostgreSQL is asked for and
    /// not configured.
    pub async fn spawn(self) -> Option<TestApp> {
        trace::capture();
        let db = match self.db {
            Some(db) => db,
            None => TestDb::create(self.which)?,
        };
        let dir = tempfile::tempdir().expect("a data folder");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let mut settings = gateway::config::Settings::defaults(dir.path()).expect("the default settings");
        settings.database_url = db.url.clone();
        settings.db_pool_size = self.store_options.max_connections;
        settings.db_timeout_secs = self.store_options.acquire_timeout.as_secs().max(1);
        settings.outbound_allow_private = self.outbound.allow_private;
        settings.provider_urls = self.outbound.provider_urls.clone();
        settings.connector_timeout_secs = self.connector_timeout.as_secs().max(1);
        settings.limits = self.limits;
        settings.backend_secrets_masked = self.backend_secrets_masked;
        settings.schedule = self.schedule.clone();
        settings.check_policy = self.check_policy.clone();
        if let Some(max) = self.fileset_max_files {
            settings.fileset_max_files = max;
        }
        if let Some(mb) = self.validation_memory_mb {
            settings.validation.memory_mb = mb;
        }
        if let Some(mb) = self.validation_billed_mb {
            settings.validation.billed_mb = mb;
        }
        // Progress (and a cancel) seen quickly.
        settings.validation.progress_every = Duration::from_millis(200);
        settings.public_url = format!("http://127.0.0.1:{port}");
        settings.upload_max_bytes = 1 << 30;
        settings.upload_idle_timeout_secs = 10;
        settings.workers = Some(2);
        settings.local_storage_url = dir.path().display().to_string();
        let spill_dir = tempfile::tempdir().expect("a spill folder");
        settings.validation.spill_dir = spill_dir.path().to_owned();
        let registry: Option<Box<dyn FnOnce(Registry) -> Registry + Send>> = match self.connectors {
            Connectors::Given(r) => Some(Box::new(move |_| r)),
            #[cfg(feature = "scripted")]
            Connectors::Real(true) => Some(Box::new(|mut r: Registry| {
                r.replace(std::sync::Arc::new(ScriptedConnector::new()));
                r
            })),
            Connectors::Real(scripted) => {
                // Without the feature nothing asks for the scripted connector.
                debug_assert!(!scripted || cfg!(feature = "scripted"));
                None
            }
        };
        let secret = JwtSecret::new(b"test-jwt-secret-0123456789abcdef-0123456789".to_vec());
        let parts = gateway::app::Parts {
            keys: Some(self.keys.clone()),
            jwt_secret: Some(secret.clone()),
            listener: Some(listener),
            registry,
            shutdown_timeout: Some(Duration::from_secs(1)),
        };
        let app = gateway::app::App::build_with(&settings, parts).expect("build the gateway");
        let (gateway, store) = (app.gateway.clone(), app.store.clone());
        let server = app.server().expect("build the server");
        let handle = server.handle();
        tokio::spawn(server.run());
        Some(TestApp {
            address: format!("http://127.0.0.1:{port}"),
            gateway,
            store,
            secret,
            db,
            local_dir: Some(dir),
            spill_dir,
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            handle,
        })
    }
}

impl TestApp {
    /// A builder: SQLite, the binary's connectors, an ephemeral key, private targets refused.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            db: None,
            which: Db::Sqlite,
            connectors: Connectors::Real(false),
            keys: Keyring::ephemeral(),
            store_options: StoreOptions::default(),
            outbound: OutboundSettings::default(),
            connector_timeout: Duration::from_secs(5),
            backend_secrets_masked: false,
            limits: gateway_service::LimitSettings {
                global_calls: 64,
                org_calls: 32,
                org_tests_per_minute: 10_000,
                ..Default::default()
            },
            schedule: gateway_service::ScheduleSettings { enabled: false, ..Default::default() },
            check_policy: gateway_store::CheckPolicy::default(),
            validation_memory_mb: None,
            validation_billed_mb: None,
            fileset_max_files: None,
        }
    }

    /// A token for `org` with `role`, valid for an hour.
    pub fn token(&self, org: &str, role: &str) -> String {
        gateway_http::issue_token(&self.secret, org, role, "tester", 3600).expect("sign a token")
    }

    /// A client calling as `role` of `org`.
    pub fn api(&self, org: &str, role: &str) -> Api<'_> {
        Api { app: self, token: Some(self.token(org, role)) }
    }

    /// A client with a given bearer token (or none).
    pub fn api_with_token(&self, token: Option<String>) -> Api<'_> {
        Api { app: self, token }
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// An answer: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The error name of an error body.
    pub fn error_name(&self) -> &str {
        self.body["error_name"].as_str().unwrap_or("")
    }

    /// `error_data.field`.
    pub fn field(&self) -> &str {
        self.body["error_data"]["field"].as_str().unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub struct Api<'a> {
    app: &'a TestApp,
    token: Option<String>,
}

impl Api<'_> {
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> Resp {
        let mut req = self.app.client.request(method, format!("{}{}", self.app.address, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            trace::remember_secrets(&b);
            req = req.header("content-type", "application/json").body(b);
        }
        let res = req.send().await.expect("the gateway answers");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("a body");
        trace::remember_upload_token(&bytes);
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp { status, headers, body }
    }

    /// A GET answered as raw bytes (`accept` sent when given): the status, the headers, and
    /// the body, or the error that cut it short (a stream that failed once under way).
    pub async fn get_raw(
        &self,
        path: &str,
        accept: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Result<bytes::Bytes, String>) {
        let mut req = self.app.client.get(format!("{}{}", self.app.address, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let res = req.send().await.expect("the gateway answers");
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.bytes().await.map_err(|e| e.to_string()))
    }

    /// A GET whose response is left unread (its body held, not consumed): what a slow reader
    /// of a stream looks like to the gateway.
    pub async fn get_unread(&self, path: &str) -> reqwest::Response {
        let mut req = self.app.client.get(format!("{}{}", self.app.address, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("the gateway answers")
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// The organization's latest 64 audit entries of `action`, newest first, once there are at
    /// least `n` (an entry written as a response's stream is dropped comes a moment after its
    /// answer), or as many as there are after 10 s. Asked with this client's role.
    pub async fn audited(&self, action: &str, n: usize) -> Vec<Value> {
        let mut found = Vec::new();
        for _ in 0..100 {
            let trail = self.get("/audit/?amt=64").await;
            found = trail.body["entries"]
                .as_array()
                .map(|a| a.iter().filter(|e| e["action"] == action).cloned().collect())
                .unwrap_or_default();
            if found.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        found
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(body.to_string().into_bytes())).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(body.to_string().into_bytes())).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body.to_string().into_bytes())).await
    }

    /// Starts a validation of the stored table at `table` (`/connections/{c}/tables/{name}/`)
    /// and polls it until its state is final (at most `wait`): the validation as answered
    /// then. The app must run its validation loop (`TestAppBuilder::schedule`).
    pub async fn validated(&self, table: &str, body: Value, wait: std::time::Duration) -> Value {
        let started = self.post(&format!("{table}validations/"), body).await;
        assert_eq!(started.status, 202, "{:?}", started.body);
        let at = format!("{table}validations/{}/", started.body["id"].as_str().unwrap_or_default());
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until {
            let r = self.get(&at).await;
            if ["succeeded", "failed", "cancelled"].contains(&r.body["state"].as_str().unwrap_or("")) {
                return r.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the validation at {at} did not finish in {wait:?}");
    }
}
