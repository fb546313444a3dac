//! Sendlane calls: `Authorization: Bearer <token>`, `Accept: application/json`.

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, OutboundClient};
use serde_json::Value;

use super::error::failure;
use gateway_connector::api::Api;

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    api: Api,
    auth: String,
}

impl Client {
    pub fn new(outbound: &OutboundClient, token: &str) -> Client {
        Client {
            api: Api::new(outbound, "SENDLANE", super::config::ORIGIN.to_owned(), "Sendlane"),
            auth: format!("Bearer {token}"),
        }
    }

    async fn get(&self, segments: &[&str], query: &[(&str, &str)], what: &str) -> Result<Value, ConnectorError> {
        let url = self.api.url(segments, query)?;
        let answer = self.api.get(url, &[("authorization", &self.auth), ("accept", "application/json")]).await?;
        if answer.ok() { Ok(answer.json()) } else { Err(failure(&self.api, &answer, what)) }
    }

    /// `GET /v2/lists?limit=N&page=P`: a page of lists and whether there is another.
    pub async fn lists(&self, limit: usize, page: u32) -> Result<(Vec<(i64, String)>, bool), ConnectorError> {
        let (limit, page) = (limit.to_string(), page.to_string());
        let body = self.get(&["v2", "lists"], &[("limit", &limit), ("page", &page)], "lists").await?;
        // The schema names a list `name`; the page's example `list_name`: both are read.
        let lists = body
            .at("/data")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| {
                let name = l["name"].as_str().or_else(|| l["list_name"].as_str()).unwrap_or_default();
                Some((l["id"].as_i64()?, name.to_owned()))
            })
            .collect();
        Ok((lists, !body.at("/links/next").is_null() && body.at("/links/next").is_string()))
    }

    /// `GET /v2/lists/{listId}/contacts?limit=100&page=P`: a page of a list's contacts and
    /// whether there is another (`links.next`).
    pub async fn contacts_page(&self, list_id: i64, page: u32) -> Result<(Vec<Value>, bool), ConnectorError> {
        let (id, page) = (list_id.to_string(), page.to_string());
        let body = self
            .get(&["v2", "lists", &id, "contacts"], &[("limit", "100"), ("page", &page)], &format!("list {list_id}"))
            .await?;
        let more = body.at("/links/next").as_str().is_some_and(|n| !n.is_empty());
        Ok((body.at("/data").as_array().cloned().unwrap_or_default(), more))
    }

    /// `GET /v2/lists/{listId}/contacts?limit=N&page=1`: the first contacts of a list.
    pub async fn contacts(&self, list_id: i64, limit: usize) -> Result<Vec<Value>, ConnectorError> {
        let (id, limit) = (list_id.to_string(), limit.clamp(1, 100).to_string());
        let body = self
            .get(&["v2", "lists", &id, "contacts"], &[("limit", &limit), ("page", "1")], &format!("list {list_id}"))
            .await?;
        Ok(body.at("/data").as_array().cloned().unwrap_or_default())
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
