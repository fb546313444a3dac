//! Segment's answers -> error kinds. The settings CDN answers an unknown write key 404 with the
//! text `Cannot GET - Invalid path or write key provided.` (what Segment's own tooling checks
//! for). The Public API answers `{"errors": [{"type", "message", ...}]}`; a bad token, and a
//! token without a permission, are both 401 (<https://docs.segmentapis.com/tag/Error-Handling>);
//! 429 carries `X-RateLimit-Reset`.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::{ConnectorError, ErrorKind};

pub fn settings_failure(api: &Api, answer: &Answer) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    match answer.status {
        404 => ConnectorError::new(
            ErrorKind::WrongCredentials,
            "Segment does not know this write key (its settings endpoint answered 404): check write_key",
        ),
        _ => api.unexpected(answer, "the write key's settings"),
    }
}

pub fn api_failure(api: &Api, answer: &Answer) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, Some("x-ratelimit-reset")) {
        return e;
    }
    let message = answer.json().at("/errors/0/message").as_str().map(|m| format!(": {m}")).unwrap_or_default();
    match answer.status {
        401 => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!(
                "the Segment Public API refused the token{message}: check public_api_token, its region, and its workspace permissions"
            ),
        ),
        403 => ConnectorError::new(ErrorKind::Forbidden, format!("the Segment Public API denied the token{message}")),
        _ => api.unexpected(answer, "GET /"),
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
            "SEGMENT",
            super::super::config::CDN.into(),
            "Segment",
        );
        let a = |status, body: &str| Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() };
        assert_eq!(
            settings_failure(&api, &a(404, "Cannot GET - Invalid path or write key provided.")).kind,
            ErrorKind::WrongCredentials
        );
        let e = api_failure(&api, &a(401, r#"{"errors":[{"type":"unauthorized","message":"Unauthorized"}]}"#));
        assert_eq!(e.kind, ErrorKind::WrongCredentials);
        let e = api_failure(
            &api,
            &a(429, r#"{"errors":[{"type":"RequestError","message":"Too many requests","status":429}]}"#),
        );
        assert_eq!(e.kind, ErrorKind::RateLimited);
    }
}
