//! Klaviyo's answers -> error kinds. Errors are JSON:API `{"errors": [{"id", "status", "code",
//! "title", "detail", "source"}]}` (the OpenAPI `ClientError`): a missing or invalid key is 401
//! (the guide also says 400) `not_authenticated`; a key without a scope 403; 404 not found;
//! 429 `throttled` with `Retry-After` in seconds (the `RateLimit-*` headers are absent then).

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind};

use gateway_connector::api::{Answer, Api};

pub fn failure(api: &Api, answer: &Answer, what: &str, scopes: &str) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    // Cloudflare in front of Klaviyo challenges some clients with an HTML page: not a scope.
    if answer.status == 403 && answer.header("cf-mitigated") == Some("challenge") {
        return ConnectorError::new(
            ErrorKind::Unavailable,
            "Klaviyo's edge (Cloudflare) challenged the request instead of answering it: try again later",
        )
        .temporary(true);
    }
    if answer.status == 410 {
        return ConnectorError::new(
            ErrorKind::Unknown,
            format!(
                "Klaviyo retired API revision {} (410 Gone): the gateway must move to a current revision; it is not the key's fault",
                super::config::REVISION
            ),
        );
    }
    let body = answer.json();
    let first = &body.at("/errors/0");
    let code = first["code"].as_str().unwrap_or_default();
    let detail = first["detail"].as_str().or_else(|| first["title"].as_str()).unwrap_or_default();
    let said = if detail.is_empty() { String::new() } else { format!(": {detail}") };
    match (answer.status, code) {
        (401, _) | (400, "not_authenticated" | "authentication_failed") => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!("Klaviyo refused the private API key{said}: check private_api_key"),
        ),
        (403, _) => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("Klaviyo denied {what}{said}: add the {scopes} scope(s) to the private API key"),
        ),
        (404, _) => ConnectorError::new(ErrorKind::ResourceNotFound, format!("Klaviyo found no {what}{said}")),
        _ => api.unexpected(answer, what),
    }
}

#[cfg(test)]
mod tests {
    use gateway_connector::{OutboundClient, OutboundSettings};

    use super::*;

    fn answer(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Answer {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Answer { status, headers: h, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn documented_errors_map_to_kinds() {
        let api = Api::new(
            &OutboundClient::new(OutboundSettings::default()).unwrap(),
            "KLAVIYO",
            "https://a.klaviyo.com".into(),
            "Klaviyo",
        );
        let unauth = r#"{"errors":[{"id":"e1","status":401,"code":"not_authenticated","title":"Authentication credentials were not provided.","detail":"Missing or invalid private key.","source":{"pointer":"/data/"}}]}"#;
        assert_eq!(
            failure(&api, &answer(401, unauth, &[]), "the account", "accounts:read").kind,
            ErrorKind::WrongCredentials
        );
        let denied = r#"{"errors":[{"id":"e2","status":403,"code":"permission_denied","title":"You do not have permission to perform this action.","detail":"You do not have permission to perform this action."}]}"#;
        let e = failure(&api, &answer(403, denied, &[]), "list Y6nRLr", "lists:read, profiles:read");
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("lists:read, profiles:read"));
        // A real 429 body (klaviyo-api-python#15).
        let throttled = r#"{"errors":[{"id":"x","status":429,"code":"throttled","title":"Request was throttled.","detail":"Request was throttled. Expected available in 7 seconds.","source":{"pointer":"/data/"}}]}"#;
        let e = failure(&api, &answer(429, throttled, &[("retry-after", "7")]), "the account", "accounts:read");
        assert_eq!((e.kind, e.retry_after.map(|d| d.as_secs())), (ErrorKind::RateLimited, Some(7)));
        assert_eq!(
            failure(&api, &answer(404, r#"{"errors":[]}"#, &[]), "list x", "lists:read").kind,
            ErrorKind::ResourceNotFound
        );
        // A retired revision with the fall-forward opt-out; Cloudflare's challenge page.
        let gone = failure(&api, &answer(410, "", &[]), "lists", "lists:read");
        assert!(gone.message.contains("retired API revision"), "{}", gone.message);
        let challenged = failure(&api, &answer(403, "<html>", &[("cf-mitigated", "challenge")]), "lists", "lists:read");
        assert_eq!(challenged.kind, ErrorKind::Unavailable);
    }
}
