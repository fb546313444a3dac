//! BigQuery's answers -> error kinds (<https://cloud.google.com/bigquery/docs/error-messages>):
//! errors are `{"error": {"code", "message", "errors": [{"reason", "message"}], "status"}}`;
//! 401 a token refused (the caller forgets it and retries once), 403 `accessDenied` (naming
//! the permission in its message), `rateLimitExceeded`/`quotaExceeded` (403 or 429), 404
//! `notFound` naming the dataset or table, 5xx `backendError`.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::{ConnectorError, ErrorKind};

pub fn failure(api: &Api, answer: &Answer, what: &str, role: &str) -> ConnectorError {
    let body = answer.json();
    let reason = body.at("/error/errors/0/reason").as_str().unwrap_or_default();
    let message: String = body.at("/error/message").as_str().unwrap_or_default().chars().take(300).collect();
    let said = if message.is_empty() { String::new() } else { format!(": {message}") };
    if matches!(reason, "rateLimitExceeded" | "quotaExceeded") {
        return ConnectorError::new(ErrorKind::RateLimited, format!("BigQuery rate-limited {what}{said}"))
            .temporary(true);
    }
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    match answer.status {
        401 => ConnectorError::new(ErrorKind::WrongCredentials, format!("BigQuery refused the access token{said}")),
        403 => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("BigQuery denied {what}{said}: the service account needs {role}"),
        ),
        404 => ConnectorError::new(ErrorKind::ResourceNotFound, format!("BigQuery found no {what}{said}")),
        _ => api.unexpected(answer, what),
    }
}

/// `jobs.query` answers a query on a missing table 404 (the emulator: 200 with `errors`).
pub fn query_errors(body: &serde_json::Value, what: &str) -> Option<ConnectorError> {
    let first = body["errors"].as_array()?.first()?;
    let message = first["message"].as_str().unwrap_or_default();
    Some(match first["reason"].as_str() {
        Some("notFound") => {
            ConnectorError::new(ErrorKind::ResourceNotFound, format!("BigQuery found no {what}: {message}"))
        }
        Some("accessDenied") => ConnectorError::new(ErrorKind::Forbidden, format!("BigQuery denied {what}: {message}")),
        Some("bytesBilledLimitExceeded") => ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("sampling {what} would bill more than the preview allows: {message}"),
        ),
        _ => ConnectorError::new(ErrorKind::Unknown, format!("BigQuery failed to sample {what}: {message}")),
    })
}

#[cfg(test)]
mod tests {
    use gateway_connector::{OutboundClient, OutboundSettings};

    use super::*;

    #[test]
    fn documented_errors_map_to_kinds() {
        let api = Api::new(
            &OutboundClient::new(OutboundSettings::default()).unwrap(),
            "BIGQUERY",
            "https://bigquery.googleapis.com".into(),
            "BigQuery",
        );
        let a = |status, body: &str| Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() };
        let denied = r#"{"error":{"code":403,"message":"Access Denied: Project p: User does not have bigquery.datasets.get permission in project p.","errors":[{"message":"Access Denied","domain":"global","reason":"accessDenied"}],"status":"PERMISSION_DENIED"}}"#;
        let e = failure(&api, &a(403, denied), "project p's datasets", "roles/bigquery.metadataViewer");
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("bigquery.datasets.get") && e.message.contains("metadataViewer"), "{}", e.message);
        let limited =
            r#"{"error":{"code":403,"message":"Exceeded rate limits","errors":[{"reason":"rateLimitExceeded"}]}}"#;
        assert_eq!(failure(&api, &a(403, limited), "x", "r").kind, ErrorKind::RateLimited);
        let missing = r#"{"error":{"code":404,"message":"Not found: Dataset p:nope","errors":[{"reason":"notFound"}],"status":"NOT_FOUND"}}"#;
        assert_eq!(failure(&api, &a(404, missing), "dataset nope", "r").kind, ErrorKind::ResourceNotFound);
        let e = query_errors(
            &serde_json::json!({"errors": [{"reason": "notFound", "message": "Not found: Table p.d.t"}]}),
            "view p.d.t",
        )
        .unwrap();
        assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    }
}
