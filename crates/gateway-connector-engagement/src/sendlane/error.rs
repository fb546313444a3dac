//! Sendlane's answers -> error kinds (the Responses page of its API documentation): 401 an
//! invalid or expired token (its body is text, `Unauthorized.`, not JSON), 403 refused (also
//! "blocked due to many errors in a particular time window"), 404 not found, 429 over 240 calls
//! a minute, 5xx. JSON errors are `{"message", "errors"}`.

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind};

use gateway_connector::api::{Answer, Api};

pub fn failure(api: &Api, answer: &Answer, what: &str) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    let message = answer.json().at("/message").as_str().map(str::to_owned).unwrap_or_else(|| {
        String::from_utf8_lossy(&answer.body)
            .chars()
            .filter(|c| !c.is_control())
            .take(120)
            .collect::<String>()
            .trim()
            .to_owned()
    });
    let said = if message.is_empty() { String::new() } else { format!(": {message}") };
    match answer.status {
        401 => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!("Sendlane refused the API token{said}: check api_token (v2 tokens expire after ten years)"),
        ),
        403 => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("Sendlane refused {what}{said} (it also blocks an account after many errors in a short time)"),
        ),
        404 => ConnectorError::new(ErrorKind::ResourceNotFound, format!("Sendlane found no {what}{said}")),
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
            "SENDLANE",
            "https://api.sendlane.com".into(),
            "Sendlane",
        );
        let a = |status, body: &str| Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() };
        let e = failure(&api, &a(401, "Unauthorized."), "lists");
        assert_eq!(e.kind, ErrorKind::WrongCredentials);
        assert!(e.message.contains("Unauthorized."));
        assert_eq!(
            failure(&api, &a(403, r#"{"message":"Forbidden","errors":[]}"#), "lists").kind,
            ErrorKind::Forbidden
        );
        assert_eq!(
            failure(&api, &a(404, r#"{"message":"Not Found","errors":["An error occurred"]}"#), "list 9").kind,
            ErrorKind::ResourceNotFound
        );
        assert_eq!(failure(&api, &a(429, ""), "lists").kind, ErrorKind::RateLimited);
    }
}
