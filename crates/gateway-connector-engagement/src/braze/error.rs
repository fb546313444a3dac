//! Braze's answers -> error kinds, from its documented errors
//! (<https://www.braze.com/docs/api/errors/#fatal-errors>): 401 an invalid key (also a key of
//! another instance), 403 a key without the endpoint's permission (or an inactive plan), 404
//! with `catalog-not-found`, 429 over the limit (`X-RateLimit-Reset` in epoch seconds), 5xx.

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind};

use gateway_connector::api::{Answer, Api};

/// What a failed call means; `permission` names the key permission the call needs.
pub fn failure(api: &Api, answer: &Answer, permission: &str, instance: &str) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, Some("x-ratelimit-reset")) {
        return e;
    }
    let body = answer.json();
    let said = body.at("/message").as_str().map(|m| format!(": {m}")).unwrap_or_default();
    match answer.status {
        401 => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!(
                "Braze refused the API key on instance {instance}{said}: check api_key, and that {instance} is the key's own instance (a key of another instance is refused the same way)"
            ),
        ),
        403 if said.to_ascii_lowercase().contains("rate plan") || said.to_ascii_lowercase().contains("inactivated") => {
            ConnectorError::new(
                ErrorKind::Forbidden,
                format!("Braze denied access{said}: the account's plan does not include this API, or it is inactive"),
            )
        }
        403 => ConnectorError::new(
            ErrorKind::Forbidden,
            format!(
                "Braze denied access{said}: add the {permission} permission to the API key (Settings > APIs and Identifiers)"
            ),
        ),
        // Braze's fatal-errors table lists "404 Not Found: Unknown REST API Key" beside 401.
        404 if body.at("/errors/0/id") != "catalog-not-found" && said.to_ascii_lowercase().contains("api key") => {
            ConnectorError::new(
                ErrorKind::WrongCredentials,
                format!("Braze does not know the API key on instance {instance}{said}: check api_key and instance"),
            )
        }
        404 if body.at("/errors/0/id") == "catalog-not-found" => {
            let name = body.at("/errors/0/parameter_values/0").as_str().unwrap_or_default();
            ConnectorError::new(
                ErrorKind::ResourceNotFound,
                format!("Braze has no catalog '{name}' on instance {instance}"),
            )
        }
        _ => api.unexpected(answer, &format!("a call needing {permission}")),
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
            "BRAZE",
            "https://rest.iad-01.braze.com".into(),
            "Braze",
        );
        let e = failure(
            &api,
            &answer(401, r#"{"message":"Invalid API key"}"#, &[]),
            "catalogs.get",
            "rest.iad-01.braze.com",
        );
        assert_eq!(e.kind, ErrorKind::WrongCredentials);
        assert!(e.message.contains("another instance"), "{}", e.message);
        let e = failure(&api, &answer(403, r#"{"message":"Access Denied"}"#, &[]), "catalogs.get", "i");
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("catalogs.get"));
        // The fatal errors' 404 and 403 for an inactive plan (braze.com/docs/api/errors).
        let e = failure(&api, &answer(404, r#"{"message":"Unknown REST API Key"}"#, &[]), "catalogs.get", "i");
        assert_eq!(e.kind, ErrorKind::WrongCredentials);
        let plan = r#"{"message":"Rate plan doesn't support or account is otherwise inactivated"}"#;
        let e = failure(&api, &answer(403, plan, &[]), "catalogs.get", "i");
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("plan"), "{}", e.message);
        // The body Braze documents for a missing catalog (DELETE /catalogs/{catalog_name}).
        let missing = r#"{"errors":[{"id":"catalog-not-found","message":"Could not find catalog","parameters":["catalog_name"],"parameter_values":["restaurants"]}],"message":"Invalid Request"}"#;
        let e = failure(&api, &answer(404, missing, &[]), "catalogs.get_items", "i");
        assert_eq!(e.kind, ErrorKind::ResourceNotFound);
        assert!(e.message.contains("'restaurants'"));
        let reset = (gateway_domain::now_seconds() + 30).to_string();
        let e = failure(&api, &answer(429, "", &[("x-ratelimit-reset", &reset)]), "catalogs.get", "i");
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(e.retry_after.is_some_and(|d| d.as_secs() >= 29));
        let e = failure(&api, &answer(503, "", &[("x-request-id", "abc")]), "catalogs.get", "i");
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("abc"));
    }
}
