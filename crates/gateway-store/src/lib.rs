//! Storage of connections and tables over SQLite (the embedded default) or PostgreSQL
//! (production, shared by several gateway replicas), chosen by the database URL.
//!
//! The API is synchronous: callers on an async runtime run it on a blocking thread
//! (`actix_web::web::block`). Every query filters on the organization. Repository functions
//! in [`connections`] and [`tables`] take a connection, so they run on the pool or inside a
//! transaction; [`Store`] wraps them with a pooled connection.

mod audit;
mod db;
mod error;
mod journal;
mod queue;
mod rows;
mod schema;
mod seal;

pub mod checks;
pub mod connections;
pub mod schemas;
pub mod tables;
pub mod validations;
pub mod webhooks;

pub use checks::{CheckJob, CheckPolicy, CheckState};
pub use db::{Backend, DbConnection, PoolState, Store, StoreOptions};
pub use error::StoreError;
pub use journal::{RowsRead, Rules};
pub use seal::{EncryptionKey, Keyring};
pub use tables::{TableFilter, Verdict};
pub use validations::{Outcome, ValidationJob};
pub use webhooks::{Attempt, Delivery};

/// What one organization may keep, from the operator (`GATEWAY_ORG_MAX_*`): a tenant cannot
/// grow the database, the outbox or the schedule without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Webhook endpoints (`GATEWAY_ORG_MAX_WEBHOOKS`, default 20).
    pub webhooks: i64,
    /// Tables, over all its connections (`GATEWAY_ORG_MAX_TABLES`, default 10,000).
    pub tables: i64,
    /// Webhook deliveries waiting (`GATEWAY_ORG_MAX_PENDING_DELIVERIES`, default 10,000):
    /// past it, a new event is not queued for delivery (logged); the change itself is kept.
    pub pending_deliveries: i64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas { webhooks: 20, tables: 10_000, pending_deliveries: 10_000 }
    }
}

/// What deleting a connection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionDeletion {
    /// Deleted, with this many of its tables (`force`).
    Deleted {
        tables: u64,
    },
    /// Refused: the connection still has this many tables and `force` was not given.
    HasTables(u64),
    NotFound,
}
