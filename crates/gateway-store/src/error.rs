//! The store's errors. Messages never carry credentials: the store only ever reports keys.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use gateway_domain::Problem;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database does not answer (pool timeout, connection refused or lost).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back (not valid JSON, unknown enum value).
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// A read-modify-write refused the change (the caller's own validation).
    #[error("{0}")]
    Rejected(Problem),
    /// Credentials that cannot be sealed or opened (a missing or wrong key).
    #[error("{0}")]
    Sealing(String),
    #[error("the database URL is not usable: {0}")]
    Config(String),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(DieselError),
}

impl StoreError {
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)))
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => StoreError::Unavailable(info.message().to_owned()),
            // SQLite still locked after the busy timeout: the database is overloaded.
            DieselError::DatabaseError(_, info) if info.message().contains("database is locked") => {
                StoreError::Unavailable(info.message().to_owned())
            }
            _ => StoreError::Database(e),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<Problem> for StoreError {
    fn from(p: Problem) -> Self {
        StoreError::Rejected(p)
    }
}
