//! Iterable's answers -> error kinds. Errors are `{"msg", "code", "params"}` (the API spec's
//! `IterableApiResponse`); a bad key, and a key of the wrong type (JavaScript, mobile), is 401
//! `BadApiKey` (the latter with `params.apiKeyType`; seen in
//! <https://github.com/Iterable/swift-sdk/issues/480>). The status decides: some 401s carry
//! `code: "Success"`. An unknown list is 400 `error.lists.invalidListId`; a missing catalog
//! 404 ("Catalog not found"). 429 and 5xx as every provider.

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind};

use gateway_connector::api::{Answer, Api};

pub fn failure(api: &Api, answer: &Answer, what: &str) -> ConnectorError {
    if let Some(e) = api.common_failure(answer, None) {
        return e;
    }
    let body = answer.json();
    let msg = body.at("/msg").as_str().unwrap_or_default();
    let said = if msg.is_empty() { String::new() } else { format!(": {msg}") };
    match answer.status {
        401 => {
            let kind = body.at("/params/apiKeyType").as_str();
            let hint = match kind {
                Some(k) => format!(" (a {k} key: use a server-side key)"),
                None => " (check api_key, and that region is the project's data centre: a key of the other one is refused the same way)".into(),
            };
            ConnectorError::new(ErrorKind::WrongCredentials, format!("Iterable refused the API key{said}{hint}"))
        }
        403 => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("Iterable denied {what}{said}: the key's type may not call it"),
        ),
        400 if msg.contains("invalidListId") || body.at("/code") == "error.lists.invalidListId" => {
            ConnectorError::new(ErrorKind::ResourceNotFound, format!("Iterable has no such list{said}"))
        }
        404 => ConnectorError::new(ErrorKind::ResourceNotFound, format!("Iterable found no {what}{said}")),
        _ => api.unexpected(answer, what),
    }
}

#[cfg(test)]
mod tests {
    use gateway_connector::{OutboundClient, OutboundSettings};

    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, headers: Default::default(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn documented_errors_map_to_kinds() {
        let api = Api::new(
            &OutboundClient::new(OutboundSettings::default()).unwrap(),
            "ITERABLE",
            "https://api.iterable.com".into(),
            "Iterable",
        );
        let bad = failure(&api, &answer(401, r#"{"msg":"Invalid API key","code":"BadApiKey","params":null}"#), "lists");
        assert_eq!(bad.kind, ErrorKind::WrongCredentials);
        assert!(bad.message.contains("data centre"), "{}", bad.message);
        let mobile = r#"{"msg":"Disabled API key or insufficient privileges","code":"BadApiKey","params":{"ip":"1.2.3.4","endpoint":"/api/lists","apiKeyIdentifier":"a1","apiKeyType":"Mobile"}}"#;
        let e = failure(&api, &answer(401, mobile), "lists");
        assert!(e.message.contains("a Mobile key: use a server-side key"), "{}", e.message);
        let e = failure(
            &api,
            &answer(400, r#"{"msg":"error.lists.invalidListId","code":"BadParams","params":null}"#),
            "list 7",
        );
        assert_eq!(e.kind, ErrorKind::ResourceNotFound);
        assert_eq!(
            failure(&api, &answer(404, r#"{"msg":"Catalog not found","code":"NotFound"}"#), "catalog").kind,
            ErrorKind::ResourceNotFound
        );
        assert_eq!(failure(&api, &answer(429, "Too Many Requests"), "lists").kind, ErrorKind::RateLimited);
        assert_eq!(
            failure(&api, &answer(503, "Request timeout.  Try again later."), "lists").kind,
            ErrorKind::Unavailable
        );
    }
}
