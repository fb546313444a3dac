//! `gateway`: the Connections Gateway server. `serve` (default), `migrate`, `token`.

use std::net::TcpListener;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gateway::config::{self, Settings};
use gateway::registry;
use gateway_http::{Application, ServerSettings};
use gateway_service::{Gateway, ServiceSettings};
use gateway_store::Store;

#[derive(Debug, Parser)]
#[command(name = "gateway", version, about = "The Connections Gateway: customers' data connections and tables")]
struct Cli {
    /// A TOML settings file; environment variables (GATEWAY_*) override it.
    #[arg(long, global = true, env = "GATEWAY_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Re-seal every stored credential under the current GATEWAY_ENCRYPTION_KEY (the old keys
    /// listed in GATEWAY_ENCRYPTION_OLD_KEYS). Resumable: run it again after an interruption.
    RotateKey {
        /// Connections re-sealed per transaction.
        #[arg(long, default_value_t = 100)]
        batch: i64,
    },
    /// Print a bearer token signed with the configured secret.
    Token {
        #[arg(long)]
        org: String,
        /// root, manager or backend.
        #[arg(long)]
        role: String,
        /// The token's subject (who holds it).
        #[arg(long, default_value = "cli")]
        sub: String,
        /// Seconds until it expires.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(settings),
        Command::RotateKey { batch } => rotate_key(settings, batch),
        Command::Token { org, role, sub, ttl } => token(settings, &org, &role, &sub, ttl),
    }
}

fn open_store(settings: &Settings) -> Result<Store> {
    let store = Store::open(&settings.database_url, &settings.store_options(), settings.keyring()?)
        .context("cannot open the database (GATEWAY_DATABASE_URL)")?;
    Ok(store)
}

fn migrate_store(store: &Store) -> Result<Vec<String>> {
    store
        .migrate()
        .context("cannot apply the database migrations: is the database reachable and GATEWAY_DATABASE_URL right?")
}

#[allow(clippy::print_stdout)]
fn migrate(settings: Settings) -> Result<()> {
    config::init_tracing(&settings);
    let store = open_store(&settings)?;
    let applied = migrate_store(&store)?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for v in applied {
        println!("applied {v}");
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn rotate_key(settings: Settings, batch: i64) -> Result<()> {
    config::init_tracing(&settings);
    let store = open_store(&settings)?;
    migrate_store(&store)?;
    let total = store.rotate_keys(batch, |n| tracing::info!(resealed = n, "rotating"))?;
    store.check_keys()?;
    println!("re-sealed {total} connection(s) under the current key");
    Ok(())
}

#[allow(clippy::print_stdout)]
fn token(settings: Settings, org: &str, role: &str, sub: &str, ttl: i64) -> Result<()> {
    config::init_tracing(&settings);
    let secret = settings.jwt_secret()?;
    let token = gateway_http::issue_token(&secret, org, role, sub, ttl).map_err(anyhow::Error::msg)?;
    println!("{token}");
    Ok(())
}

fn serve(settings: Settings) -> Result<()> {
    config::init_tracing(&settings);
    settings.log_deprecations();
    config::secure_data_dir(&settings)?;
    let secret = settings.jwt_secret()?;
    let upload_key = settings.upload_key(&secret)?;
    let store = open_store(&settings)?.with_check_policy(settings.check_policy.clone()).with_quotas(settings.quotas);
    let applied = migrate_store(&store)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database migrated");
    }
    // The database file exists now: private too.
    config::secure_data_dir(&settings)?;
    if settings.public_url.starts_with("http://")
        && !settings.bind.starts_with("127.")
        && !settings.bind.starts_with("localhost")
    {
        tracing::warn!(
            public_url = %settings.public_url,
            "GATEWAY_PUBLIC_URL is http://: LOCAL upload URLs (credentials for a table's file) travel in clear; serve behind https and set it"
        );
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
    let registry = registry::registry(&outbound, local).context("cannot register the connectors")?;
    let listener = TcpListener::bind(&settings.bind).with_context(|| format!("cannot listen on {}", settings.bind))?;
    let service = ServiceSettings {
        connector_timeout: settings.connector_timeout(),
        outbound_allow_private: settings.outbound_allow_private,
        public_url: settings.public_url.clone(),
        upload_max_bytes: settings.upload_max_bytes,
        upload_key,
        upload_idle_timeout: std::time::Duration::from_secs(settings.upload_idle_timeout_secs.max(1)),
        limits: settings.limits,
        schedule: settings.schedule.clone(),
    };
    tracing::info!(
        address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        backend = ?store.backend(),
        connectors = ?registry,
        "serving"
    );
    let gateway = Gateway::new(store, registry, service);
    let server_settings = ServerSettings {
        workers: settings.workers,
        max_blocking_threads: settings.blocking_threads(),
        trusted_proxies: settings.trusted_proxies.clone(),
        ..ServerSettings::default()
    };
    actix_web::rt::System::new().block_on(async move {
        // Re-tests and webhook deliveries beside the server; they stop with it.
        let schedule = actix_web::rt::spawn(gateway.clone().run_schedule());
        let served = Application::build(gateway, secret, listener, &server_settings)?.run().await;
        schedule.abort();
        served
    })?;
    tracing::info!("stopped");
    Ok(())
}
