//! Google service-account auth, shared by GCS and BigQuery: the key file's RS256 assertion
//! (`kid` = `private_key_id`) exchanged for an access token by the OAuth2 JWT-bearer grant
//! (RFC 7523) at Google's token endpoint, pinned: a key's own `token_uri` is never followed.
//! Tokens are cached per key and scope until a minute before they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use gateway_domain::{JsonObject, now_seconds};
use serde_json::{Value, json};

use crate::oauth2::{AccessToken, post_form};
use crate::{ConnectorError, ErrorKind, OutboundClient};

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
    pub async fn exchange(&self, key: &ServiceAccountKey<'_>, scope: &str) -> Result<AccessToken, ConnectorError> {
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
        let id = key.cache_key(scope);
        let now = now_seconds();
        if let Ok(tokens) = self.tokens.lock()
            && let Some((token, expires)) = tokens.get(&id)
            && *expires > now + 60
        {
            return Ok(token.clone());
        }
        let fresh = self.exchange(key, scope).await?;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, (_, e)| *e > now);
            tokens
                .insert(id, (fresh.token.clone(), now.saturating_add(fresh.expires_in.unwrap_or(0).clamp(0, 86_400))));
        }
        Ok(fresh.token)
    }

    /// Drops a cached token the API refused (401), so the next call exchanges again.
    pub fn forget(&self, key: &ServiceAccountKey<'_>, scope: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&key.cache_key(scope));
        }
    }
}
