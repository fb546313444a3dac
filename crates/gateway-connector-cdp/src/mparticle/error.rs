//! mParticle's answers -> error kinds. The token endpoint answers OAuth2 errors (401
//! `access_denied` "Unauthorized" for unknown client credentials; mapped by the shared
//! `oauth2::token_answer`). The Platform API answers `{"errors": [{"message"}]}`; 401 and 403
//! refuse the token or its permission, 404 an unknown workspace, 429 with `Retry-After`.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::{ConnectorError, ErrorKind};

pub fn platform_failure(api: &Api, answer: &Answer, workspace: &str) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    let message = answer.json().at("/errors/0/message").as_str().map(|m| format!(": {m}")).unwrap_or_default();
    match answer.status {
        401 => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!("the mParticle Platform API refused the token{message}"),
        ),
        403 => ConnectorError::new(
            ErrorKind::Forbidden,
            format!(
                "the Platform API credentials may not read workspace {workspace}'s data plans{message}: grant them Data Planning access"
            ),
        ),
        404 => ConnectorError::new(
            ErrorKind::ResourceNotFound,
            format!("mParticle has no workspace {workspace}{message}: check workspace_id"),
        ),
        _ => api.unexpected(answer, "the data plans"),
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
            "M_PARTICLE",
            "https://api.mparticle.com".into(),
            "mParticle",
        );
        let a = |status, body: &str| Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() };
        assert_eq!(platform_failure(&api, &a(401, "{}"), "1").kind, ErrorKind::WrongCredentials);
        assert_eq!(
            platform_failure(&api, &a(403, r#"{"errors":[{"message":"Forbidden"}]}"#), "1").kind,
            ErrorKind::Forbidden
        );
        assert_eq!(
            platform_failure(&api, &a(404, r#"{"errors":[{"message":"not found"}]}"#), "1").kind,
            ErrorKind::ResourceNotFound
        );
        let e = gateway_connector::oauth2::token_answer(
            401,
            br#"{"error":"access_denied","error_description":"Unauthorized"}"#,
            None,
            "mParticle",
        );
        assert_eq!(e.unwrap_err().kind, ErrorKind::WrongCredentials);
    }
}
