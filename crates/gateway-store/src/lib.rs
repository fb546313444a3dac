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
mod rows;
mod schema;
mod seal;

pub mod checks;
pub mod connections;
pub mod tables;
pub mod webhooks;

pub use checks::{CheckJob, CheckPolicy, CheckState};
pub use db::{Backend, DbConnection, PoolState, Store, StoreOptions};
pub use error::StoreError;
pub use seal::{EncryptionKey, Keyring};
pub use tables::TableFilter;
pub use webhooks::{Attempt, Delivery};

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
