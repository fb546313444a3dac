//! The stable set of error names and the problem every layer hands up to HTTP.
//!
//! The names are part of the contract: clients branch on them. The HTTP status and the JSON
//! body are decided in `gateway-http` alone.

use std::fmt;

use serde_json::Value;

use crate::JsonObject;

/// The error names the gateway answers with. The first four are the spec's own; the others
/// cover what the spec leaves to the transport (authentication, size limits, availability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// The request is wrong: malformed JSON, a wrong type, an unknown field or enum value,
    /// a connection that is not allowed, wrong credentials, a table with wrong params.
    WrongDataType,
    /// The organization has no stored connection of the kind in the path (also answered when
    /// a table is created on a kind whose connection was never `PUT`).
    ConnectionNotFound,
    /// The organization has no table of that name on that connection.
    TableNotFound,
    /// The organization has no webhook endpoint of that id.
    WebhookNotFound,
    /// The table has no validation of that id (never started, or pruned).
    ValidationNotFound,
    /// The remote resource a table names (bucket, object, provider object) does not exist.
    ResourceNotFound,
    /// No, a malformed, a badly signed or an expired bearer token.
    Unauthorized,
    /// A valid token whose role may not call the gateway.
    Forbidden,
    /// No endpoint at this path.
    RouteNotFound,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// The body is over the limit.
    PayloadTooLarge,
    /// The organization keeps as many of something (webhooks, tables) as the operator lets
    /// one organization keep; `error_data` names the quota (`quota`, `setting`, `limit`).
    QuotaExceeded,
    /// The organization made too many provider calls (credential tests, previews) at once or
    /// this minute; `error_data.retry_after` says when to retry.
    TooManyRequests,
    /// No connector is registered for this kind yet.
    ConnectorUnavailable,
    /// The database does not answer.
    ServiceUnavailable,
    /// A fault of the gateway's own. Never for anything a client sent.
    InternalError,
}

impl Problem {
    /// QUOTA_EXCEEDED: the organization keeps `limit` of `what` (a plural noun), the most the
    /// operator's `setting` lets it.
    pub fn quota(what: &str, setting: &str, limit: i64, hint: &str) -> Problem {
        Problem::new(
            ErrorName::QuotaExceeded,
            format!("this organization has {limit} {what}, the most it may keep ({setting}): {hint}"),
        )
        .with("quota", what)
        .with("setting", setting)
        .with("limit", limit)
    }
}

impl ErrorName {
    /// Every name, in the order above (the spec's four first); for docs, schemas and tests.
    pub const ALL: &'static [ErrorName] = &[
        ErrorName::WrongDataType,
        ErrorName::ConnectionNotFound,
        ErrorName::TableNotFound,
        ErrorName::ResourceNotFound,
        ErrorName::WebhookNotFound,
        ErrorName::ValidationNotFound,
        ErrorName::Unauthorized,
        ErrorName::Forbidden,
        ErrorName::RouteNotFound,
        ErrorName::MethodNotAllowed,
        ErrorName::PayloadTooLarge,
        ErrorName::QuotaExceeded,
        ErrorName::TooManyRequests,
        ErrorName::ConnectorUnavailable,
        ErrorName::ServiceUnavailable,
        ErrorName::InternalError,
    ];

    /// The wire spelling, sent as `error_name` in the error body (`WRONG_DATA_TYPE`, ...).
    /// Clients branch on this string, so it never changes for an existing variant.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorName::WrongDataType => "WRONG_DATA_TYPE",
            ErrorName::ConnectionNotFound => "CONNECTION_NOT_FOUND",
            ErrorName::TableNotFound => "TABLE_NOT_FOUND",
            ErrorName::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ErrorName::WebhookNotFound => "WEBHOOK_NOT_FOUND",
            ErrorName::ValidationNotFound => "VALIDATION_NOT_FOUND",
            ErrorName::Unauthorized => "UNAUTHORIZED",
            ErrorName::Forbidden => "FORBIDDEN",
            ErrorName::RouteNotFound => "ROUTE_NOT_FOUND",
            ErrorName::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorName::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorName::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorName::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorName::ConnectorUnavailable => "CONNECTOR_UNAVAILABLE",
            ErrorName::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorName::InternalError => "INTERNAL_ERROR",
        }
    }
}

impl ErrorName {
    /// The name a wire error body carries, parsed; `None` for one this version does not know.
    pub fn from_wire(name: &str) -> Option<ErrorName> {
        ErrorName::ALL.iter().copied().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong, safe to show the caller: an error name, a message a person can act on,
/// and structured data (`field` names the offending field). Never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The contract's error name, answered as `error_name`; the HTTP status follows from it.
    pub name: ErrorName,
    /// A sentence for a person (what was wrong, what is allowed), answered as `message`.
    /// Not meant to be parsed: branch on `name` and `data` instead.
    pub message: String,
    /// Structured details, answered as `error_data` (`{}` when empty). Common keys: `field`
    /// (the offending field's dotted path, see [`Problem::field`]), `allowed` (the accepted
    /// values), `min`/`max` (a range), `retry_after` (seconds, for TOO_MANY_REQUESTS).
    pub data: JsonObject,
}

impl Problem {
    /// A problem with this name and message and no `error_data`.
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        Problem { name, message: message.into(), data: JsonObject::new() }
    }

    /// WRONG_DATA_TYPE with a message.
    pub fn wrong_data(message: impl Into<String>) -> Self {
        Problem::new(ErrorName::WrongDataType, message)
    }

    /// WRONG_DATA_TYPE about one field (a dotted path such as `resource_params.columns_mapping`).
    pub fn wrong_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem::wrong_data(message).with("field", field.into())
    }

    /// Adds a key to `error_data` (replacing one of the same name); chainable.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }

    /// The field this problem is about, when it names one.
    pub fn field(&self) -> Option<&str> {
        self.data.get("field").and_then(Value::as_str)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for Problem {}

impl From<crate::ParseEnumError> for Problem {
    fn from(e: crate::ParseEnumError) -> Self {
        Problem::wrong_field(e.what, e.to_string())
            .with("allowed", e.allowed.iter().map(|s| Value::from(*s)).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_screaming() {
        let mut seen = std::collections::HashSet::new();
        for n in ErrorName::ALL {
            assert!(seen.insert(n.as_str()));
            assert!(n.as_str().chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        }
    }

    #[test]
    fn enum_error_names_field_and_allowed() {
        let p: Problem = "nope".parse::<crate::Resource>().unwrap_err().into();
        assert_eq!(p.name, ErrorName::WrongDataType);
        assert_eq!(p.field(), Some("resource"));
        assert_eq!(p.data["allowed"].as_array().map(Vec::len), Some(8));
    }
}
