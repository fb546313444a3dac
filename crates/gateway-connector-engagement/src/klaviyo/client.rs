//! Klaviyo calls: `Authorization: Klaviyo-API-Key <key>`, `revision`, and the JSON:API
//! media type (what the official SDKs send).

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, OutboundClient};
use serde_json::Value;

use super::config::{ORIGIN, REVISION};
use super::error::failure;
use gateway_connector::api::Api;

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    api: Api,
    auth: String,
}

impl Client {
    pub fn new(outbound: &OutboundClient, key: &str) -> Client {
        Client {
            api: Api::new(outbound, "KLAVIYO", ORIGIN.to_owned(), "Klaviyo"),
            auth: format!("Klaviyo-API-Key {key}"),
        }
    }

    async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        what: &str,
        scopes: &str,
    ) -> Result<Value, ConnectorError> {
        let url = self.api.url(segments, query)?;
        let headers =
            [("authorization", self.auth.as_str()), ("revision", REVISION), ("accept", "application/vnd.api+json")];
        let answer = self.api.get(url, &headers).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, what, scopes));
        }
        Ok(answer.json())
    }

    /// `GET /api/accounts/` (`accounts:read`; 1/s burst, 15/m steady): the key's account.
    pub async fn account(&self) -> Result<Value, ConnectorError> {
        let body = self.get(&["api", "accounts", ""], &[], "the account", "accounts:read").await?;
        Ok(body.at("/data/0").clone())
    }

    /// `GET /api/lists/{id}/profiles/?page[size]=N` (`lists:read`, `profiles:read`; N <= 100).
    pub async fn list_profiles(&self, list_id: &str, size: usize) -> Result<Vec<Value>, ConnectorError> {
        let size = size.clamp(1, 100).to_string();
        let body = self
            .get(
                &["api", "lists", list_id, "profiles", ""],
                &[("page[size]", &size)],
                &format!("list '{list_id}'"),
                "lists:read, profiles:read",
            )
            .await?;
        Ok(body.at("/data").as_array().cloned().unwrap_or_default())
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
