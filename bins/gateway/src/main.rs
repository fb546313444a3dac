//! `gateway`: the Connections Gateway server. `serve` (default), `migrate`, `token`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gateway::app::App;
use gateway::config::{self, Settings};
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
    if settings.public_url.starts_with("http://")
        && !settings.bind.starts_with("127.")
        && !settings.bind.starts_with("localhost")
    {
        tracing::warn!(
            public_url = %settings.public_url,
            "GATEWAY_PUBLIC_URL is http://: LOCAL upload URLs (credentials for a table's file) travel in clear; serve behind https and set it"
        );
    }
    actix_web::rt::System::new().block_on(async move {
        let app = App::build(&settings)?;
        // The database file exists now: private too.
        config::secure_data_dir(&settings)?;
        app.server()?.run().await?;
        Ok::<(), anyhow::Error>(())
    })?;
    tracing::info!("stopped");
    Ok(())
}
