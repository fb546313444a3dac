//! The kinds of failure a provider call can end in.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A provider failure, classified. The message is for the caller: it names what failed (a
/// bucket, a permission) and never carries a credential. The cause, when there is one, is kept
/// for the log (`std::error::Error::source`), never shown to the caller.
#[derive(Debug, Clone)]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub message: String,
    /// Whether the same call may succeed later (a 5xx, a timeout, a rate limit).
    pub temporary: bool,
    /// How long the provider asked to wait (a `Retry-After` header), when it said.
    pub retry_after: Option<Duration>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ConnectorError {
    /// A failure of `kind`; temporary when the kind usually is (rate limits, timeouts,
    /// unavailability).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ConnectorError {
            kind,
            message: message.into(),
            temporary: kind.is_temporary(),
            retry_after: None,
            source: None,
        }
    }

    /// Keeps the underlying error for the log. Its text must not hold a secret either: pass
    /// errors whose `Display` names no credential (reqwest's `without_url()`, opendal's kind).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// Marks whether a retry may succeed.
    pub fn temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// The provider's `Retry-After`, which also makes the failure temporary.
    pub fn retry_after(mut self, after: Option<Duration>) -> Self {
        if after.is_some() {
            self.temporary = true;
        }
        self.retry_after = after;
        self
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ConnectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two failures are the same when their kind and message are: the cause is for the log.
impl PartialEq for ConnectorError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for ConnectorError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The provider rejected the credentials themselves.
    WrongCredentials,
    /// The credentials are valid but lack a permission.
    Forbidden,
    /// The bucket, object, dataset or provider object does not exist.
    ResourceNotFound,
    /// The table's parameters do not describe what is there (format, columns), or a target
    /// the outbound guard refuses.
    WrongSpecification,
    RateLimited,
    Timeout,
    /// The provider could not be reached or answered 5xx.
    Unavailable,
    Unknown,
}

impl ErrorKind {
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::WrongCredentials,
        ErrorKind::Forbidden,
        ErrorKind::ResourceNotFound,
        ErrorKind::WrongSpecification,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::Unknown,
    ];

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

    /// Whether a failure of this kind usually passes by itself.
    pub const fn is_temporary(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Timeout | ErrorKind::Unavailable)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Retry-After` as seconds, whole or decimal (Shopify sends `2.0`; the HTTP-date form is rare
/// from APIs and is ignored), rounded up and capped at an hour so a hostile header cannot park
/// a retry forever.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs((secs.ceil() as u64).min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_kept_for_the_log_and_kinds_say_if_temporary() {
        let io = std::io::Error::other("connection reset");
        let e = ConnectorError::new(ErrorKind::Unavailable, "S3 could not be reached").with_source(io);
        assert!(e.temporary);
        assert_eq!(std::error::Error::source(&e).map(|s| s.to_string()).as_deref(), Some("connection reset"));
        assert_eq!(e.to_string(), "unavailable: S3 could not be reached");
        assert!(!ConnectorError::new(ErrorKind::WrongCredentials, "x").temporary);
        let limited = ConnectorError::new(ErrorKind::Unknown, "x").retry_after(parse_retry_after(Some(" 30 ")));
        assert!(limited.temporary);
        assert_eq!(limited.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(Some("999999")), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after(Some("2.0")), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(Some("0.4")), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(Some("-3")), None);
        assert_eq!(parse_retry_after(Some("NaN")), None);
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }
}
