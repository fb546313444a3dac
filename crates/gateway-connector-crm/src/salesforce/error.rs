//! Salesforce's answers -> error kinds. Token errors are OAuth2's (`invalid_client`,
//! `invalid_grant` "no client credentials user enabled"; mapped by the shared
//! `oauth2::token_answer`). REST errors are `[{"message", "errorCode"}]`
//! (<https://developer.salesforce.com/docs/platform/api-rest/guide/errorcodes.md>): 401
//! `INVALID_SESSION_ID`, 403 (`INSUFFICIENT_ACCESS`, `API_DISABLED_FOR_ORG`, and
//! `REQUEST_LIMIT_EXCEEDED` for the org's daily API limit: Salesforce answers 403, not 429),
//! 404 `NOT_FOUND`, 400 `INVALID_TYPE` for an unknown object in a query.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::{ConnectorError, ErrorKind};

pub fn rest_failure(api: &Api, answer: &Answer, what: &str) -> ConnectorError {
    let body = answer.json();
    let first = &body.at("/0");
    let code = first["errorCode"].as_str().unwrap_or_default();
    let message: String = first["message"].as_str().unwrap_or_default().chars().take(300).collect();
    let said = if message.is_empty() { format!(" ({code})") } else { format!(" ({code}: {message})") };
    if code == "REQUEST_LIMIT_EXCEEDED" {
        return ConnectorError::new(
            ErrorKind::RateLimited,
            format!("Salesforce refused {what}: the org's API request limit is used up{said}"),
        )
        .temporary(true);
    }
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    match (answer.status, code) {
        (401 | 403, _) => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("Salesforce refused {what}{said}: the app's run-as user needs API access and read access to it"),
        ),
        (404, _) | (400, "INVALID_TYPE" | "NOT_FOUND") => {
            ConnectorError::new(ErrorKind::ResourceNotFound, format!("Salesforce has no {what}{said}"))
        }
        _ => api.unexpected(answer, what),
    }
}

#[cfg(test)]
mod tests {
    use gateway_connector::{OutboundClient, OutboundSettings};

    use super::*;

    #[test]
    fn documented_errors_map_to_kinds() {
        let api = Api::new(
            &OutboundClient::new(OutboundSettings::default()).unwrap(),
            "SALESFORCE",
            "https://acme.my.salesforce.com".into(),
            "Salesforce",
        );
        let a = |status, body: &str| Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() };
        let e = rest_failure(
            &api,
            &a(401, r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#),
            "the org's limits",
        );
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("INVALID_SESSION_ID"));
        assert_eq!(
            rest_failure(
                &api,
                &a(403, r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#),
                "x"
            )
            .kind,
            ErrorKind::RateLimited
        );
        assert_eq!(
            rest_failure(
                &api,
                &a(404, r#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#),
                "sObject Nope"
            )
            .kind,
            ErrorKind::ResourceNotFound
        );
        assert_eq!(
            rest_failure(
                &api,
                &a(400, r#"[{"message":"sObject type 'Nope' is not supported.","errorCode":"INVALID_TYPE"}]"#),
                "x"
            )
            .kind,
            ErrorKind::ResourceNotFound
        );
        let token = gateway_connector::oauth2::token_answer(
            400,
            br#"{"error":"invalid_grant","error_description":"no client credentials user enabled"}"#,
            None,
            "Salesforce",
        );
        assert!(token.unwrap_err().message.contains("no client credentials user enabled"));
    }
}
