//! OAuth2 token requests every provider family shares: the client-credentials grant
//! (RFC 6749 §4.4; Salesforce, mParticle) and the token answer with its documented errors
//! (§5.1, §5.2), mapped to our kinds. Google's JWT-bearer grant builds on the same answer
//! ([`crate::google`]).

use std::time::Duration;

use gateway_domain::JsonObject;
use reqwest::Url;
use serde_json::Value;

use crate::{ConnectorError, ErrorKind, OutboundClient, parse_retry_after};

/// An access token and what came with it (`instance_url` for Salesforce...).
#[derive(Clone)]
pub struct AccessToken {
    pub token: String,
    /// Seconds it lives, when the server said.
    pub expires_in: Option<i64>,
    /// The answer's other fields.
    pub extra: JsonObject,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (the RFC's preferred form).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// Reads a token endpoint's answer. `who` names the provider in messages.
pub fn token_answer(
    status: u16,
    body: &[u8],
    retry_after: Option<&str>,
    who: &str,
) -> Result<AccessToken, ConnectorError> {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        let Some(Value::Object(mut fields)) = Some(answer) else {
            return Err(ConnectorError::new(
                ErrorKind::Unavailable,
                format!("{who}'s token endpoint answered no JSON"),
            ));
        };
        let token = match fields.remove("access_token") {
            Some(Value::String(t)) if !t.is_empty() => t,
            _ => {
                return Err(ConnectorError::new(
                    ErrorKind::Unavailable,
                    format!("{who}'s token endpoint answered without an access token"),
                ));
            }
        };
        let expires_in = fields.remove("expires_in").and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        fields.remove("refresh_token");
        fields.remove("id_token");
        return Ok(AccessToken { token, expires_in, extra: fields });
    }
    let code = answer.get("error").and_then(Value::as_str).unwrap_or_default();
    // The description is the provider's words for a person; it never echoes the secret.
    let detail: String =
        answer.get("error_description").and_then(Value::as_str).unwrap_or(code).chars().take(300).collect();
    let said = if detail.is_empty() { String::new() } else { format!(": {detail}") };
    Err(match (status, code) {
        (_, "invalid_client" | "unauthorized_client" | "invalid_grant") | (401, _) => {
            ConnectorError::new(ErrorKind::WrongCredentials, format!("{who} refused the credentials ({code}){said}"))
        }
        (_, "invalid_scope" | "access_denied") | (403, _) => {
            ConnectorError::new(ErrorKind::Forbidden, format!("{who} refused the scope ({code}){said}"))
        }
        (429, _) => ConnectorError::new(ErrorKind::RateLimited, format!("{who}'s token endpoint asks to slow down"))
            .retry_after(parse_retry_after(retry_after)),
        // The app exists but may not use this grant: a setting of the customer's app (on
        // Salesforce, "Enable Client Credentials Flow" and a Run As user).
        (_, "unsupported_grant_type" | "unauthorized_grant_type") => ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!(
                "{who} refused the client-credentials grant for this app ({code}){said}: enable the client-credentials flow on the app (on Salesforce: Enable Client Credentials Flow, and a Run As user)"
            ),
        ),
        // invalid_request: a request the gateway got wrong, not the customer's credentials.
        (400, _) => ConnectorError::new(ErrorKind::Unknown, format!("{who} refused the token request ({code}){said}")),
        (s, _) if s >= 500 => {
            ConnectorError::new(ErrorKind::Unavailable, format!("{who}'s token endpoint answered {s}"))
                .retry_after(parse_retry_after(retry_after))
        }
        (s, _) => ConnectorError::new(ErrorKind::Unknown, format!("{who}'s token endpoint answered {s}{said}")),
    })
}

/// POSTs a form to a token endpoint and reads the answer.
pub async fn post_form(
    outbound: &OutboundClient,
    url: Url,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    who: &str,
) -> Result<AccessToken, ConnectorError> {
    let body = serde_urlencoded_pairs(form);
    let mut builder = outbound
        .request(reqwest::Method::POST, url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body);
    if let Some((id, secret)) = basic {
        builder = builder.basic_auth(form_encode(id), Some(form_encode(secret)));
    }
    let req = builder.build().map_err(|_| {
        ConnectorError::new(ErrorKind::Unknown, format!("cannot build the request to {who}'s token endpoint"))
    })?;
    let res = outbound.send(req).await?;
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = outbound.read_body(res).await?;
    token_answer(status, &body, retry.as_deref(), who)
}

/// The client-credentials grant: `client_id` and `client_secret` for a token.
pub async fn client_credentials(
    outbound: &OutboundClient,
    url: Url,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
    auth: ClientAuth,
    who: &str,
) -> Result<AccessToken, ConnectorError> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    match auth {
        ClientAuth::Basic => post_form(outbound, url, &form, Some((client_id, client_secret)), who).await,
        ClientAuth::Body => {
            form.push(("client_id", client_id));
            form.push(("client_secret", client_secret));
            post_form(outbound, url, &form, None, who).await
        }
    }
}

/// `application/x-www-form-urlencoded` of one value (RFC 6749 appendix B also applies it to
/// the Basic credentials).
fn form_encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn serde_urlencoded_pairs(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish()
}

/// How long to keep a token: its lifetime less a minute, at least a few seconds.
pub fn keep_for(expires_in: Option<i64>) -> Duration {
    Duration::from_secs(expires_in.unwrap_or(300).saturating_sub(60).max(5) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Error bodies as RFC 6749 §5.2 and the providers document them.
    #[test]
    fn token_errors_map_to_kinds() {
        let case = |status, body: &str| token_answer(status, body.as_bytes(), None, "Salesforce").unwrap_err();
        let e = case(400, r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#);
        assert_eq!(e.kind, ErrorKind::WrongCredentials);
        assert!(e.message.contains("invalid client credentials"), "{}", e.message);
        assert_eq!(
            case(400, r#"{"error":"invalid_grant","error_description":"no client credentials user enabled"}"#).kind,
            ErrorKind::WrongCredentials
        );
        assert_eq!(case(400, r#"{"error":"invalid_scope"}"#).kind, ErrorKind::Forbidden);
        assert_eq!(case(401, "").kind, ErrorKind::WrongCredentials);
        let limited = token_answer(429, b"{}", Some("12"), "x").unwrap_err();
        assert_eq!((limited.kind, limited.retry_after), (ErrorKind::RateLimited, Some(Duration::from_secs(12))));
        assert_eq!(case(503, "<html>").kind, ErrorKind::Unavailable);
        assert!(case(503, "").temporary);
    }

    #[test]
    fn token_answers_keep_extra_fields_and_drop_refresh_tokens() {
        let ok = token_answer(
            200,
            br#"{"access_token":"00D!x","instance_url":"https://acme.my.salesforce.com","token_type":"Bearer","refresh_token":"r"}"#,
            None,
            "Salesforce",
        )
        .unwrap();
        assert_eq!(ok.token, "00D!x");
        assert_eq!(ok.extra["instance_url"], "https://acme.my.salesforce.com");
        assert!(!ok.extra.contains_key("refresh_token"));
        assert!(!format!("{ok:?}").contains("00D!x"), "a token never reaches a debug print");
        assert_eq!(
            token_answer(200, br#"{"token_type":"Bearer"}"#, None, "x").unwrap_err().kind,
            ErrorKind::Unavailable
        );
        assert_eq!(
            token_answer(200, br#"{"access_token":"t","expires_in":"3600"}"#, None, "x").unwrap().expires_in,
            Some(3600)
        );
    }
}
