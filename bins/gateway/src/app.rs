//! The one composition root: everything `gateway serve` wires from its [`Settings`] (the
//! store opened, migrated and its keys checked, the guarded outbound clients, LOCAL storage,
//! the connectors, the service, the HTTP server and the schedule beside it). `main` builds
//! it from the operator's settings; the test kit builds it from the settings a test asks for,
//! so black-box tests run the composition the binary runs.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::{Either, select};
use gateway_connector::Registry;
use gateway_http::{Application, JwtSecret, ServerSettings};
use gateway_service::{Gateway, ServiceSettings};
use gateway_store::{Keyring, Store};

use crate::config::Settings;
use crate::registry;

/// What a caller gives instead of what the settings would make (the test kit: a key ring of
/// its own, a fixed token secret, a bound port, another list of connectors).
#[derive(Default)]
pub struct Parts {
    pub keys: Option<Keyring>,
    pub jwt_secret: Option<JwtSecret>,
    /// Bound already (`settings.bind` otherwise).
    pub listener: Option<TcpListener>,
    /// Given the registry the settings make (the binary's list on the LOCAL storage of
    /// `settings.local_storage_url`), answers the one served.
    #[allow(clippy::type_complexity, reason = "a one-off hook")]
    pub registry: Option<Box<dyn FnOnce(Registry) -> Registry + Send>>,
    /// How long in-flight requests get at shutdown (the server's default otherwise).
    pub shutdown_timeout: Option<Duration>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts").finish_non_exhaustive()
    }
}

/// A gateway wired and listening, not yet serving.
pub struct App {
    pub gateway: Gateway,
    pub store: Store,
    pub secret: JwtSecret,
    listener: TcpListener,
    server: ServerSettings,
    schedule: bool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("address", &self.listener.local_addr().ok()).finish_non_exhaustive()
    }
}

/// The server and, when the schedule is on, re-tests and deliveries beside it.
#[allow(missing_debug_implementations, reason = "the HTTP server has no Debug")]
pub struct Server {
    app: Application,
    gateway: Gateway,
    schedule: bool,
}

impl App {
    /// Everything from the settings.
    pub fn build(settings: &Settings) -> Result<App> {
        App::build_with(settings, Parts::default())
    }

    pub fn build_with(settings: &Settings, parts: Parts) -> Result<App> {
        let secret = match parts.jwt_secret {
            Some(s) => s,
            None => settings.jwt_secret()?,
        };
        let upload_key = settings.upload_key(&secret)?;
        let keys = match parts.keys {
            Some(k) => k,
            None => settings.keyring()?,
        };
        let store = Store::open(&settings.database_url, &settings.store_options(), keys)
            .context("cannot open the database (GATEWAY_DATABASE_URL)")?
            .with_check_policy(settings.check_policy.clone())
            .with_quotas(settings.quotas);
        let applied = store.migrate().context(
            "cannot apply the database migrations: is the database reachable and GATEWAY_DATABASE_URL right?",
        )?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "database migrated");
        }
        // A wrong key stops start-up here rather than failing every request later.
        store.check_keys().context("the encryption keys do not open the stored credentials")?;
        if settings.outbound_allow_private {
            tracing::warn!("GATEWAY_OUTBOUND_ALLOW_PRIVATE=true: connectors may reach private and loopback hosts");
        }
        let outbound =
            gateway_connector::OutboundClient::new(settings.outbound()).context("cannot build the outbound client")?;
        // The platform's own storage: through the guard too; an endpoint the operator names (a
        // MinIO on the LAN) is allowed to be private.
        let storage_outbound = gateway_connector::OutboundClient::new(gateway_connector::OutboundSettings {
            allow_private: settings.outbound_allow_private || settings.local_storage_endpoint.is_some(),
            ..settings.outbound()
        })
        .context("cannot build the storage client")?;
        let local = gateway_connector_object_store::LocalConnector::from_url_with(
            &settings.local_storage_url,
            settings.local_storage_endpoint.as_deref(),
            Some(&storage_outbound),
        )
        .map_err(anyhow::Error::msg)
        .context("cannot open the LOCAL storage (GATEWAY_LOCAL_STORAGE_URL)")?;
        tracing::info!(local_storage = local.description(), "LOCAL tables are stored here");
        let mut registry = registry::registry(&outbound, local, settings.fileset_max_files)
            .context("cannot register the connectors")?;
        if let Some(f) = parts.registry {
            registry = f(registry);
        }
        let listener = match parts.listener {
            Some(l) => l,
            None => TcpListener::bind(&settings.bind).with_context(|| format!("cannot listen on {}", settings.bind))?,
        };
        let service = ServiceSettings {
            connector_timeout: settings.connector_timeout(),
            outbound_allow_private: settings.outbound_allow_private,
            public_url: settings.public_url.clone(),
            upload_max_bytes: settings.upload_max_bytes,
            upload_key,
            upload_idle_timeout: Duration::from_secs(settings.upload_idle_timeout_secs.max(1)),
            limits: settings.limits,
            schedule: settings.schedule.clone(),
            validation: settings.validation.clone(),
            backend_secrets_masked: settings.backend_secrets_masked,
        };
        tracing::info!(
            address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            backend = ?store.backend(),
            connectors = ?registry,
            "serving"
        );
        let gateway = Gateway::new(store.clone(), registry, service);
        let mut server = ServerSettings {
            workers: settings.workers,
            max_blocking_threads: settings.blocking_threads(),
            trusted_proxies: settings.trusted_proxies.clone(),
            ..ServerSettings::default()
        };
        if let Some(t) = parts.shutdown_timeout {
            server.shutdown_timeout = t;
        }
        Ok(App { gateway, store, secret, listener, server, schedule: settings.schedule.enabled })
    }

    pub fn address(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The HTTP server on the listener (inside a runtime).
    pub fn server(self) -> Result<Server> {
        let app = Application::build(self.gateway.clone(), self.secret, self.listener, &self.server)?;
        Ok(Server { app, gateway: self.gateway, schedule: self.schedule })
    }
}

impl Server {
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.app.handle()
    }

    /// Serves until stopped; the schedule stops with the server.
    pub async fn run(self) -> std::io::Result<()> {
        let served = Box::pin(self.app.run());
        if !self.schedule {
            return served.await;
        }
        match select(served, Box::pin(self.gateway.run_schedule())).await {
            Either::Left((served, _schedule)) => served,
            // The schedule supervises its loops and does not end; if it did, keep serving.
            Either::Right(((), served)) => served.await,
        }
    }
}
