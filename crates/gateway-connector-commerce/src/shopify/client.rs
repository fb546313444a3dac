//! Shopify calls: `X-Shopify-Access-Token`, the pinned Admin API version.

use gateway_connector::api::Api;
use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, OutboundClient};
use serde_json::Value;

use super::config::API_VERSION;
use super::error::failure;

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    api: Api,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(outbound: &OutboundClient, shop: &str, token: &str) -> Client {
        Client { api: Api::new(outbound, "SHOPIFY", format!("https://{shop}"), "Shopify"), token: token.to_owned() }
    }

    async fn get(
        &self,
        resource: &str,
        query: &[(&str, &str)],
        what: &str,
        scope: &str,
    ) -> Result<Value, ConnectorError> {
        let file = format!("{resource}.json");
        let url = self.api.url(&["admin", "api", API_VERSION, &file], query)?;
        let answer =
            self.api.get(url, &[("x-shopify-access-token", &self.token), ("accept", "application/json")]).await?;
        if answer.ok() { Ok(answer.json()) } else { Err(failure(&self.api, &answer, what, scope)) }
    }

    /// `GET /admin/api/{version}/shop.json` (any scope).
    pub async fn shop(&self) -> Result<Value, ConnectorError> {
        Ok(self.get("shop", &[], "the shop", "any").await?.at("/shop").clone())
    }

    /// `GET /admin/api/{version}/{object}.json?limit=N` (orders with `status=any`).
    pub async fn list(&self, object: &str, scope: &str, limit: usize) -> Result<Vec<Value>, ConnectorError> {
        let limit = limit.clamp(1, 250).to_string();
        let mut query = vec![("limit", limit.as_str())];
        if object == "orders" {
            query.push(("status", "any"));
        }
        let body = self.get(object, &query, object, scope).await?;
        Ok(body.get(object).and_then(Value::as_array).cloned().unwrap_or_default())
    }
}
