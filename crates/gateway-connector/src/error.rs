//! The kinds of failure a provider call can end in.

use std::fmt;

/// A provider failure, classified. The message is for the caller: it names what failed (a
/// bucket, a permission) and never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ConnectorError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConnectorError { kind, message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The provider rejected the credentials themselves.
    WrongCredentials,
    /// The credentials are valid but lack a permission.
    Forbidden,
    /// The bucket, object, dataset or provider object does not exist.
    ResourceNotFound,
    /// The table's parameters do not describe what is there (format, columns).
    WrongSpecification,
    RateLimited,
    Timeout,
    /// The provider could not be reached or answered 5xx.
    Unavailable,
    Unknown,
}

impl ErrorKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::WrongCredentials => "wrong_credentials",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::ResourceNotFound => "resource_not_found",
            ErrorKind::WrongSpecification => "wrong_specification",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
