//! Google service-account auth, shared by GCS and BigQuery: the key file's RS256 assertion
//! (`kid` = `private_key_id`) exchanged for an access token by the OAuth2 JWT-bearer grant
//! (RFC 7523) at Google's token endpoint, pinned: a key's own `token_uri` is never followed.
//! Tokens are cached per key and scope until a minute before they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use gateway_domain::{JsonObject, now_seconds};
use serde_json::{Value, json};

use crate::oauth2::{AccessToken, post_form};
use crate::{ConnectorError, CredentialSpec, ErrorKind, FieldSpec, FieldType, OutboundClient};
use gateway_domain::Problem;

/// The fields of a service-account key file, as Google issues it, for a connector's
/// credential spec (its own fields follow); `service_account_key` takes the whole file.
pub fn key_file_fields() -> Vec<FieldSpec> {
    let f = |n, d| FieldSpec::optional(n, FieldType::String, d);
    vec![
        FieldSpec::required("type", FieldType::String, "\"service_account\", as in the key file"),
        FieldSpec::required("project_id", FieldType::String, "the key's project"),
        FieldSpec::required("private_key_id", FieldType::String, "the key's id"),
        FieldSpec::required("private_key", FieldType::String, "the key's PEM private key").secret(),
        FieldSpec::required("client_email", FieldType::String, "the service account's e-mail"),
        f("client_id", "from the key file"),
        f("auth_uri", "from the key file"),
        f("token_uri", "from the key file (never followed: keys are exchanged at Google's token endpoint)"),
        f("auth_provider_x509_cert_url", "from the key file"),
        f("client_x509_cert_url", "from the key file"),
        f("universe_domain", "from the key file"),
        FieldSpec::optional(
            "service_account_key",
            FieldType::ObjectOrString,
            "the whole key file, as an object or the JSON text; its fields fill the others",
        ),
    ]
}

/// Credentials with a key file: `service_account_key` (an object or its JSON text) unpacked
/// into the fields it fills, checked against `spec`, then the key's own rules (a
/// service-account key with a PEM private key).
pub fn validate_key_credentials(spec: &CredentialSpec, credentials: &JsonObject) -> Result<JsonObject, Problem> {
    let mut c = credentials.clone();
    if let Some(file) = c.remove("service_account_key") {
        let field = "credentials.service_account_key";
        let key = match file {
            Value::Object(o) => o,
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(o)) => o,
                _ => return Err(Problem::wrong_field(field, "'service_account_key' is not the JSON of a key file")),
            },
            _ => return Err(Problem::wrong_field(field, "'service_account_key' must be an object or its JSON text")),
        };
        for (k, v) in key {
            if spec.field(&k).is_none() {
                return Err(Problem::wrong_field(
                    format!("{field}.{k}"),
                    format!("the key file holds an unknown field '{k}'"),
                ));
            }
            c.entry(k).or_insert(v);
        }
    }
    let c = spec.validate(&c)?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::trim);
    if text("type") != Some("service_account") {
        return Err(Problem::wrong_field(
            "credentials.type",
            "'type' must be \"service_account\": use a service-account key file",
        ));
    }
    if !text("private_key").is_some_and(|k| k.contains("PRIVATE KEY")) {
        return Err(Problem::wrong_field(
            "credentials.private_key",
            "'private_key' must be the PEM key of the key file",
        ));
    }
    Ok(c)
}

/// Google's token endpoint, the only one a key is exchanged at.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The name of the peer that replaces it in tests: `GATEWAY_PROVIDER_GOOGLE_OAUTH_URL`.
pub const PEER: &str = "GOOGLE_OAUTH";

/// A service-account key's fields this auth reads, from credentials as stored.
#[derive(Clone, Copy)]
pub struct ServiceAccountKey<'a> {
    pub client_email: &'a str,
    pub private_key: &'a str,
    pub private_key_id: Option<&'a str>,
}

impl std::fmt::Debug for ServiceAccountKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey").field("client_email", &self.client_email).finish_non_exhaustive()
    }
}

impl<'a> ServiceAccountKey<'a> {
    /// The key in credentials (`client_email`, `private_key`, `private_key_id`).
    pub fn from_credentials(c: &'a JsonObject) -> Result<ServiceAccountKey<'a>, ConnectorError> {
        let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let wrong = |m: &str| ConnectorError::new(ErrorKind::WrongCredentials, m.to_owned());
        Ok(ServiceAccountKey {
            client_email: text("client_email").ok_or_else(|| wrong("'client_email' is missing"))?,
            private_key: text("private_key").ok_or_else(|| wrong("'private_key' is missing"))?,
            private_key_id: text("private_key_id"),
        })
    }

    fn cache_key(&self, scope: &str) -> String {
        let material = format!("{}\n{}\n{scope}", self.client_email, self.private_key);
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Exchanges service-account keys for access tokens, caching them. One per connector.
pub struct GoogleAuth {
    outbound: OutboundClient,
    token_url: String,
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAuth").field("token_url", &self.token_url).finish_non_exhaustive()
    }
}

impl GoogleAuth {
    pub fn new(outbound: OutboundClient) -> GoogleAuth {
        let token_url = outbound.provider_url(PEER).map_or_else(|| TOKEN_URL.to_owned(), str::to_owned);
        GoogleAuth { outbound, token_url, tokens: Mutex::default() }
    }

    /// The endpoint keys are exchanged at (the assertion's audience).
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A fresh exchange: what a credential test does, since checking the key is its point.
    /// The token is cached for the calls that follow.
    pub async fn exchange(&self, key: &ServiceAccountKey<'_>, scope: &str) -> Result<AccessToken, ConnectorError> {
        let fresh = self.request(key, scope).await?;
        self.keep(key.cache_key(scope), &fresh, now_seconds());
        Ok(fresh)
    }

    /// Caches a token just exchanged (`now` when it was asked for); answers when it expires.
    fn keep(&self, id: String, fresh: &AccessToken, now: i64) -> i64 {
        // Google's tokens last an hour (3599 s answered); an answer without `expires_in` is
        // taken at that, not as already expired.
        let until = now.saturating_add(fresh.expires_in.unwrap_or(3_600).clamp(0, 86_400));
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, (_, e)| *e > now);
            tokens.insert(id, (fresh.token.clone(), until));
        }
        until
    }

    async fn request(&self, key: &ServiceAccountKey<'_>, scope: &str) -> Result<AccessToken, ConnectorError> {
        let wrong = |m: &str| ConnectorError::new(ErrorKind::WrongCredentials, m.to_owned());
        let pem = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.replace("\\n", "\n").as_bytes())
            .map_err(|_| wrong("'private_key' is not a PEM RSA private key"))?;
        let now = now_seconds();
        let claims =
            json!({"iss": key.client_email, "scope": scope, "aud": self.token_url, "iat": now, "exp": now + 3600});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = key.private_key_id.map(str::to_owned);
        let assertion = jsonwebtoken::encode(&header, &claims, &pem).map_err(|_| wrong("the key cannot sign"))?;
        let url = reqwest::Url::parse(&self.token_url)
            .map_err(|_| ConnectorError::new(ErrorKind::WrongSpecification, "the token URL is not valid"))?;
        let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.as_str())];
        post_form(&self.outbound, url, &form, None, "Google").await.map_err(|mut e| {
            if e.kind == ErrorKind::WrongCredentials {
                e.message = format!("Google refused the service-account key: {}", e.message);
            }
            e
        })
    }

    /// A cached token for the key and scope while it has a minute left, else a fresh one.
    pub async fn token(&self, key: &ServiceAccountKey<'_>, scope: &str) -> Result<String, ConnectorError> {
        self.token_lasting(key, scope, 60).await
    }

    /// A cached token that has `secs` left, else a fresh one: what a long read asks for (a
    /// whole read holds one token for all its requests, and a cached token with a minute left
    /// would fail it a minute in).
    pub async fn token_lasting(
        &self,
        key: &ServiceAccountKey<'_>,
        scope: &str,
        secs: i64,
    ) -> Result<String, ConnectorError> {
        self.token_until(key, scope, secs).await.map(|(token, _)| token)
    }

    /// [`GoogleAuth::token_lasting`] with the token's expiry (epoch seconds): what a signer
    /// that refreshes its token before it expires needs.
    pub async fn token_until(
        &self,
        key: &ServiceAccountKey<'_>,
        scope: &str,
        secs: i64,
    ) -> Result<(String, i64), ConnectorError> {
        let id = key.cache_key(scope);
        let now = now_seconds();
        if let Ok(tokens) = self.tokens.lock()
            && let Some((token, expires)) = tokens.get(&id)
            && *expires > now.saturating_add(secs)
        {
            return Ok((token.clone(), *expires));
        }
        let fresh = self.request(key, scope).await?;
        let until = self.keep(id, &fresh, now);
        Ok((fresh.token, until))
    }

    /// Drops a cached token the API refused (401), so the next call exchanges again.
    pub fn forget(&self, key: &ServiceAccountKey<'_>, scope: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&key.cache_key(scope));
        }
    }
}
