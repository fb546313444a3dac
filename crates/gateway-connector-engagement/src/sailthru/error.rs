//! Sailthru's answers -> error kinds. Errors are `{"error": N, "errormsg": "..."}`
//! (<https://getstarted.sailthru.com/developers/api-basics/responses/>): 3 an invalid API key
//! (401), 5 "Authentication failed" (a signature that is not the shared secret's), 4 a
//! disallowed IP, 15 an unknown list, 43 too many requests this minute (429, with
//! `X-Rate-Limit-Reset` the Unix time of the next minute), 9 and 99 internal or other errors.

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind};

use gateway_connector::api::{Answer, Api};

pub fn failure(api: &Api, answer: &Answer, what: &str) -> ConnectorError {
    let body = answer.json();
    let code = body.at("/error").as_i64();
    let msg = body.at("/errormsg").as_str().unwrap_or_default();
    let said = if msg.is_empty() { String::new() } else { format!(": {msg}") };
    match code {
        Some(3) => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!("Sailthru does not know the API key{said}: check api_key"),
        ),
        Some(5) => ConnectorError::new(
            ErrorKind::WrongCredentials,
            format!(
                "Sailthru refused the request's signature{said}: check api_secret (the shared secret of this api_key)"
            ),
        ),
        Some(4) => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("Sailthru refused the gateway's IP address{said}: allow it in the API settings"),
        ),
        Some(15) => ConnectorError::new(ErrorKind::ResourceNotFound, format!("Sailthru has no such {what}{said}")),
        Some(43) => {
            api.common_failure(&Answer { status: 429, ..answer.clone() }, Some("x-rate-limit-reset")).unwrap_or_else(
                || ConnectorError::new(ErrorKind::RateLimited, format!("Sailthru rate-limited the request{said}")),
            )
        }
        _ => api.common_failure(answer, Some("x-rate-limit-reset")).unwrap_or_else(|| {
            ConnectorError::new(
                ErrorKind::Unknown,
                format!("Sailthru failed on {what} (error {}){said}", code.unwrap_or_default()),
            )
        }),
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
            "SAILTHRU",
            "https://api.sailthru.com".into(),
            "Sailthru",
        );
        let cases = [
            (401, r#"{"error":3,"errormsg":"Invalid API key"}"#, ErrorKind::WrongCredentials),
            (401, r#"{"error":5,"errormsg":"Authentication failed"}"#, ErrorKind::WrongCredentials),
            (403, r#"{"error":4,"errormsg":"Disallowed IP"}"#, ErrorKind::Forbidden),
            (400, r#"{"errormsg":"Unknown list: invalid-list","error":15}"#, ErrorKind::ResourceNotFound),
            (
                429,
                r#"{"error":43,"errormsg":"Too many GET requests this minute to /list API"}"#,
                ErrorKind::RateLimited,
            ),
            (500, r#"{"error":9,"errormsg":"Internal Error"}"#, ErrorKind::Unavailable),
            (400, r#"{"errormsg":"Unknown stat: lista","error":99}"#, ErrorKind::Unknown),
        ];
        for (status, body, kind) in cases {
            assert_eq!(failure(&api, &answer(status, body), "list").kind, kind, "{body}");
        }
        assert!(failure(&api, &answer(401, r#"{"error":5,"errormsg":"x"}"#), "list").message.contains("api_secret"));
    }
}
