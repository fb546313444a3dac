//! Shopify's answers -> error kinds (<https://shopify.dev/docs/api/usage/response-codes>):
//! 401 an invalid token (`{"errors":"[API] Invalid API key or access token ..."}`), 402 a frozen
//! (unpaid) shop, 403 a missing scope (`[API] This action requires merchant approval for
//! read_orders scope.`), 404 no such shop or resource, 423 a locked shop, 429 over the leaky
//! bucket with `Retry-After` in (decimal) seconds, 5xx.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::{ConnectorError, ErrorKind};

pub fn failure(api: &Api, answer: &Answer, what: &str, scope: &str) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    let body = answer.json();
    let said: String = match &body.at("/errors") {
        serde_json::Value::String(s) => format!(": {}", s.chars().take(200).collect::<String>()),
        serde_json::Value::Null => String::new(),
        other => format!(": {}", other.to_string().chars().take(200).collect::<String>()),
    };
    match answer.status {
        401 => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!("Shopify refused the access token{said}: check access_token and shop"),
        ),
        402 => ConnectorError::new(ErrorKind::Forbidden, format!("the shop is frozen (its plan is unpaid){said}")),
        403 => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("Shopify denied {what}{said}: the app needs the {scope} scope"),
        ),
        404 => ConnectorError::new(ErrorKind::ResourceNotFound, format!("Shopify found no {what}{said}: check shop")),
        423 => ConnectorError::new(ErrorKind::Forbidden, format!("the shop is locked{said}")),
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
            "SHOPIFY",
            "https://acme.myshopify.com".into(),
            "Shopify",
        );
        let a = |status, body: &str, retry: Option<&str>| {
            let mut h = reqwest::header::HeaderMap::new();
            if let Some(r) = retry {
                h.insert("retry-after", r.parse().unwrap());
            }
            Answer { status, headers: h, body: body.as_bytes().to_vec() }
        };
        let cases = [
            (
                401,
                r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#,
                ErrorKind::WrongCredentials,
            ),
            (402, r#"{"errors":"Unavailable Shop"}"#, ErrorKind::Forbidden),
            (
                403,
                r#"{"errors":"[API] This action requires merchant approval for read_orders scope."}"#,
                ErrorKind::Forbidden,
            ),
            (404, r#"{"errors":"Not Found"}"#, ErrorKind::ResourceNotFound),
            (423, r#"{"errors":"Locked"}"#, ErrorKind::Forbidden),
        ];
        for (status, body, kind) in cases {
            assert_eq!(failure(&api, &a(status, body, None), "orders", "read_orders").kind, kind, "{status}");
        }
        let e = failure(
            &api,
            &a(429, r#"{"errors":"Exceeded 2 calls per second for api client."}"#, Some("2.0")),
            "the shop",
            "",
        );
        assert_eq!((e.kind, e.retry_after.map(|d| d.as_secs())), (ErrorKind::RateLimited, Some(2)));
    }
}
