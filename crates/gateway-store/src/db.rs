//! The pool and the one connection type over both backends.
//!
//! The backend is picked from the URL scheme by our own r2d2 manager: diesel's
//! `MultiConnection::establish` tries each backend in turn and hides the real error.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StoreError;
use crate::seal::Keyring;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Applied on every SQLite connection the pool opens. WAL itself is switched on once, at open.
const SQLITE_SETUP: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// A connection to either backend. Repository functions take `&mut DbConnection`.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DbConnection::Postgresql(_) => "DbConnection::Postgresql",
            DbConnection::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
enum Target {
    Sqlite(String),
    Postgres(String),
}

impl Target {
    fn parse(url: &str) -> Result<Target, StoreError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StoreError::Config("the database URL is empty".into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // libpq waits ~forever on an unreachable host by default; bound it so that an
            // outage answers 503 quickly instead of hanging requests.
            let url = if url.contains("connect_timeout=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&connect_timeout=2")
            } else {
                format!("{url}?connect_timeout=2")
            };
            return Ok(Target::Postgres(url));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.contains("://") {
            return Err(StoreError::Config(format!(
                "unsupported scheme in '{}': use postgres://... or a SQLite path",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(Target::Sqlite(path.to_owned()))
    }
}

struct Manager {
    target: Target,
}

/// A pooled connection and when a caller last used it without error: a connection that
/// just worked is lent again without a `SELECT 1` first (one round trip saved per request);
/// one that failed, or sat idle longer than [`TRUSTED_FOR`], is checked before it is lent.
struct Pooled {
    conn: DbConnection,
    worked_at: Option<std::time::Instant>,
}

/// How long a connection that worked is trusted without a check. A server that went away
/// within this window fails one request (503) on each such connection, which is then
/// checked, found dead and replaced.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        let conn = match &self.target {
            Target::Sqlite(path) => {
                let mut c = SqliteConnection::establish(path)?;
                c.batch_execute(SQLITE_SETUP).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                DbConnection::Sqlite(c)
            }
            Target::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgresql)?,
        };
        Ok(Pooled { conn, worked_at: Some(std::time::Instant::now()) })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        if pooled.worked_at.is_some_and(|t| t.elapsed() < TRUSTED_FOR) {
            return Ok(());
        }
        pooled.conn.batch_execute("SELECT 1").map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        pooled.worked_at = Some(std::time::Instant::now());
        Ok(())
    }

    /// A connection still inside a transaction (a caller panicked mid-way) is not lent
    /// again: it may hold locks, and its next user's writes would join that transaction.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        use diesel::connection::TransactionManager;
        type Tm = <DbConnection as diesel::Connection>::TransactionManager;
        !matches!(Tm::transaction_manager_status_mut(&mut pooled.conn).transaction_depth(), Ok(None))
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: name the backend only.
        f.write_str(match self.target {
            Target::Sqlite(_) => "Manager(sqlite)",
            Target::Postgres(_) => "Manager(postgres)",
        })
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pooled connections at most.
    pub max_connections: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 8, acquire_timeout: Duration::from_secs(2) }
    }
}

/// The store: a pool over one database.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    pub(crate) keys: Keyring,
    pub(crate) policy: Arc<crate::CheckPolicy>,
    pub(crate) quotas: crate::Quotas,
    /// Callers inside `pool.get()` now: waiting for a connection, or checking one out (a
    /// `SELECT 1`) or opening it.
    waiting: Arc<AtomicUsize>,
}

/// The pool as it is now, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections at most.
    pub max: u32,
    /// Connections open (in use and idle).
    pub open: u32,
    /// Connections lent out to a caller.
    pub in_use: u32,
    /// Callers acquiring one now (waiting, or checking it out).
    pub waiting: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool on `url`, sealing credentials with `keys`, without waiting for the database: a PostgreSQL that is down at
    /// start makes requests answer 503 until it is back. A SQLite file (and its folder) is
    /// created and switched to WAL.
    pub fn open(url: &str, options: &StoreOptions, keys: Keyring) -> Result<Store, StoreError> {
        let target = Target::parse(url)?;
        let backend = match &target {
            Target::Sqlite(path) => {
                if path != ":memory:"
                    && let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
                }
                Backend::Sqlite
            }
            Target::Postgres(_) => Backend::Postgres,
        };
        let max = match (&target, backend) {
            // Every connection to ":memory:" is a new database: keep one.
            (Target::Sqlite(p), _) if p == ":memory:" => 1,
            _ => options.max_connections.max(1),
        };
        let pool = r2d2::Pool::builder()
            .max_size(max)
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .test_on_check_out(true)
            .build_unchecked(Manager { target });
        let store = Store {
            pool,
            backend,
            keys,
            policy: Arc::default(),
            quotas: crate::Quotas::default(),
            waiting: Arc::default(),
        };
        if backend == Backend::Sqlite {
            store.with(|c| c.batch_execute("PRAGMA journal_mode = WAL").map_err(StoreError::from))?;
        }
        Ok(store)
    }

    /// Sets when new connections and tables are first re-tested, and each next time.
    pub fn with_check_policy(mut self, policy: crate::CheckPolicy) -> Store {
        self.policy = Arc::new(policy);
        self
    }

    /// What one organization may keep.
    pub fn with_quotas(mut self, quotas: crate::Quotas) -> Store {
        self.quotas = quotas;
        self
    }

    pub fn quotas(&self) -> crate::Quotas {
        self.quotas
    }

    /// The rules changes are recorded under (see `journal`).
    pub fn rules(&self) -> crate::journal::Rules<'_> {
        crate::journal::Rules { policy: &self.policy, quotas: &self.quotas }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How long a caller waits for a pooled connection before the database counts as unavailable.
    pub fn acquire_timeout(&self) -> Duration {
        self.pool.connection_timeout()
    }

    /// The pool as it is now.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            max: self.pool.max_size(),
            open: state.connections,
            in_use: state.connections.saturating_sub(state.idle_connections),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on a pooled connection.
    pub fn with<T>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let pooled = self.pool.get();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let mut pooled = pooled?;
        let result = f(&mut pooled.conn);
        // Only a connection that just answered is trusted without a check next time; any
        // error (a refusal included: cheap to re-check) makes the next user check it.
        pooled.worked_at = result.is_ok().then(std::time::Instant::now);
        result
    }

    /// Runs `f` in a write transaction on a pooled connection (see `write_transaction`: `BEGIN IMMEDIATE` on SQLite).
    pub fn write<T>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with(|c| write_transaction(c, f))
    }

    /// Runs SQL statements as they are (schema set-up in tests and tools).
    pub fn batch_execute(&self, sql: &str) -> Result<(), StoreError> {
        self.with(|c| c.batch_execute(sql).map_err(StoreError::from))
    }

    /// The database answers.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.batch_execute("SELECT 1").map_err(StoreError::from))
    }

    /// Applies pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let applied = match c {
                DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
                DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            }
            .map_err(|e| StoreError::Migration(e.to_string()))?;
            Ok(applied.into_iter().map(|v| v.to_string()).collect())
        })
    }

    /// Reverts every applied migration; returns the versions reverted. For tests and for
    /// operators taking the schema down.
    pub fn revert_all(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let reverted = match c {
                DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
                DbConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
            }
            .map_err(|e| StoreError::Migration(e.to_string()))?;
            Ok(reverted.into_iter().map(|v| v.to_string()).collect())
        })
    }

    /// Migrations not applied yet.
    pub fn pending_migrations(&self) -> Result<usize, StoreError> {
        self.with(|c| {
            let pending = match c {
                DbConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|m| m.len()),
                DbConnection::Postgresql(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map(|m| m.len()),
            };
            pending.map_err(|e| StoreError::Migration(e.to_string()))
        })
    }
}

/// Runs `f` in a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`, so the write
/// lock is taken up front and waits the busy timeout instead of failing when a read upgrades
/// to a write under concurrent writers.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // A panic inside `f` must not leave the transaction open on a pooled connection (holding
    // SQLite's write lock or PostgreSQL's row locks for ever): roll back, then let it go on.
    let in_transaction = |conn: &mut DbConnection| match conn {
        DbConnection::Sqlite(_) => {
            conn.batch_execute("BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(v) => match conn.batch_execute("COMMIT") {
                    Ok(()) => Ok(v),
                    Err(e) => {
                        let _ = conn.batch_execute("ROLLBACK");
                        Err(e.into())
                    }
                },
                Err(e) => {
                    let _ = conn.batch_execute("ROLLBACK");
                    Err(e)
                }
            }
        }
        DbConnection::Postgresql(_) => conn.transaction(f),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_transaction(&mut *conn))) {
        Ok(result) => result,
        Err(panic) => {
            match conn {
                DbConnection::Sqlite(_) => {
                    let _ = conn.batch_execute("ROLLBACK");
                }
                DbConnection::Postgresql(_) => {
                    use diesel::connection::TransactionManager;
                    type Tm = <DbConnection as diesel::Connection>::TransactionManager;
                    let _ = Tm::rollback_transaction(conn);
                }
            }
            std::panic::resume_unwind(panic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert!(
            matches!(Target::parse("postgres://u@h/db"), Ok(Target::Postgres(u)) if u.ends_with("?connect_timeout=2"))
        );
        assert!(
            matches!(Target::parse("postgresql://u@h/db?x=1&connect_timeout=9"), Ok(Target::Postgres(u)) if u.ends_with("=9"))
        );
        assert!(matches!(Target::parse("sqlite://data/g.db"), Ok(Target::Sqlite(p)) if p == "data/g.db"));
        assert!(matches!(Target::parse("/tmp/g.db"), Ok(Target::Sqlite(p)) if p == "/tmp/g.db"));
        assert!(matches!(Target::parse("mysql://x"), Err(StoreError::Config(_))));
        assert!(matches!(Target::parse(" "), Err(StoreError::Config(_))));
    }
}
