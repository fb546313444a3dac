//! Shopify's answers -> error kinds (<https://shopify.dev/docs/api/usage/response-codes>):
//! 401 an invalid token (`{"errors":"[API] Invalid API key or access token ..."}`), 402 a frozen
//! (unpaid) shop, 403 a missing scope (`[API] This action requires merchant approval for
//! read_orders scope.`), 404 no such shop or resource, 423 a locked shop, 429 over the leaky
//! bucket with `Retry-After` in (decimal) seconds, 5xx.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::{ConnectorError, ErrorKind};
use serde_json::Value;

/// What to do about a denial: the scope to add, when a call needs one (`""`: none does).
fn remedy(scope: &str) -> String {
    if scope.is_empty() {
        "the app's token is not allowed it (check the app's installation on the shop)".to_owned()
    } else {
        format!("add the {scope} scope to the app")
    }
}

/// A failed answer; `scope` is the one the call needs (`""` when any token may make it).
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
            format!(
                "Shopify refused the access token{said}: check the app's credentials (client_id and client_secret, or access_token) and shop"
            ),
        ),
        402 => ConnectorError::new(ErrorKind::Forbidden, format!("the shop is frozen (its plan is unpaid){said}")),
        403 => ConnectorError::new(ErrorKind::Forbidden, format!("Shopify denied {what}{said}: {}", remedy(scope))),
        404 => ConnectorError::new(ErrorKind::ResourceNotFound, format!("Shopify found no {what}{said}: check shop")),
        423 => ConnectorError::new(ErrorKind::Forbidden, format!("the shop is locked{said}")),
        _ => api.unexpected(answer, what),
    }
}

/// A GraphQL answer's `errors` as a failure (they come with HTTP 200): `ACCESS_DENIED` for a
/// missing scope ("Required access: `read_customers` access scope") or for protected customer
/// data ("This app is not approved to access the Customer object"), `THROTTLED` (the
/// cost-based bucket: wait as its throttle status says), `SHOP_INACTIVE`, anything else.
pub fn graphql_failure(body: &Value, what: &str, scope: &str) -> Option<ConnectorError> {
    let first = body.at("/errors/0");
    if first.is_null() {
        return None;
    }
    let message: String = first.at("/message").as_str().unwrap_or_default().chars().take(300).collect();
    let code = first.at("/extensions/code").as_str().unwrap_or_default();
    Some(match code {
        "ACCESS_DENIED" if message.contains("not approved to access") => ConnectorError::new(
            ErrorKind::Forbidden,
            format!(
                "Shopify denied {what}: {message} (request protected customer data access for the app in its Dev Dashboard or Partner Dashboard: API access > Protected customer data)"
            ),
        ),
        "ACCESS_DENIED" => {
            ConnectorError::new(ErrorKind::Forbidden, format!("Shopify denied {what}: {message} ({})", remedy(scope)))
        }
        "THROTTLED" => {
            let status = body.at("/extensions/cost/throttleStatus");
            let requested = body.at("/extensions/cost/requestedQueryCost").as_f64().unwrap_or(50.0);
            let available = status.at("/currentlyAvailable").as_f64().unwrap_or(0.0);
            let rate = status.at("/restoreRate").as_f64().filter(|r| *r > 0.0).unwrap_or(50.0);
            let wait = ((requested - available).max(0.0) / rate).ceil().clamp(1.0, 60.0);
            ConnectorError::new(
                ErrorKind::RateLimited,
                format!("Shopify throttled the query for {what}: retry in {wait} s"),
            )
            .retry_after(Some(std::time::Duration::from_secs(wait as u64)))
        }
        "SHOP_INACTIVE" => ConnectorError::new(ErrorKind::Forbidden, format!("the shop is inactive: {message}")),
        _ => ConnectorError::new(
            ErrorKind::Unknown,
            format!("Shopify answered the query for {what} with an error: {message}"),
        ),
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

    /// GraphQL errors as shopify.dev and Shopify's SDK issues show them.
    #[test]
    fn graphql_errors_map_to_kinds() {
        let scope = serde_json::json!({"errors": [{"message": "Access denied for customers field. Required access: `read_customers` access scope.",
            "extensions": {"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes"}}], "data": null});
        let e = graphql_failure(&scope, "customers", "read_customers").unwrap();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("add the read_customers scope"), "{}", e.message);
        let protected = serde_json::json!({"errors": [{"message": "This app is not approved to access the Customer object. See https://partners.shopify.com/1/apps/2/customer_data for more details.",
            "extensions": {"code": "ACCESS_DENIED"}}]});
        let e = graphql_failure(&protected, "customers", "read_customers").unwrap();
        assert!(e.message.contains("protected customer data"), "{}", e.message);
        let throttled = serde_json::json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": null,
                "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0}}}});
        let e = graphql_failure(&throttled, "products", "read_products").unwrap();
        assert_eq!((e.kind, e.retry_after.map(|d| d.as_secs())), (ErrorKind::RateLimited, Some(2)));
        assert!(graphql_failure(&serde_json::json!({"data": {"shop": {}}}), "x", "y").is_none());
    }
}
