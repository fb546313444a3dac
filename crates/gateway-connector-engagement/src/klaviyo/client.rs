//! Klaviyo calls: `Authorization: Klaviyo-API-Key <key>`, the pinned `revision` with the
//! fall-forward opt-out, and the JSON:API media type (what the official SDKs send), on the
//! paths the SDKs use (no trailing slash).

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

/// Where a user table's profiles come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group<'a> {
    List(&'a str),
    Segment(&'a str),
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
        let headers = [
            ("authorization", self.auth.as_str()),
            ("revision", REVISION),
            ("x-klaviyo-revision-fall-forward-opt-out", "1"),
            ("accept", "application/vnd.api+json"),
        ];
        let answer = self.api.get(url, &headers).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, what, scopes));
        }
        Ok(answer.json())
    }

    /// `GET /api/lists?page[size]=1` (`lists:read`; at most 10 a page): the key can read lists.
    pub async fn first_list(&self) -> Result<Option<String>, ConnectorError> {
        let body = self.get(&["api", "lists"], &[("page[size]", "1")], "lists", "lists:read").await?;
        Ok(body.at("/data/0/id").as_str().map(str::to_owned))
    }

    /// `GET /api/segments?page[size]=1` (`segments:read`).
    pub async fn first_segment(&self) -> Result<Option<String>, ConnectorError> {
        let body = self.get(&["api", "segments"], &[("page[size]", "1")], "segments", "segments:read").await?;
        Ok(body.at("/data/0/id").as_str().map(str::to_owned))
    }

    /// `GET /api/{lists|segments}/{id}/profiles?page[size]=N` (`lists:read` or `segments:read`,
    /// and `profiles:read`; N <= 100).
    pub async fn profiles(&self, group: Group<'_>, size: usize) -> Result<Vec<Value>, ConnectorError> {
        let size = size.clamp(1, 100).to_string();
        let (kind, id, scopes) = match group {
            Group::List(id) => ("lists", id, "lists:read, profiles:read"),
            Group::Segment(id) => ("segments", id, "segments:read, profiles:read"),
        };
        let what = format!("{} '{id}'", kind.trim_end_matches('s'));
        let body = self.get(&["api", kind, id, "profiles"], &[("page[size]", &size)], &what, scopes).await?;
        Ok(body.at("/data").as_array().cloned().unwrap_or_default())
    }

    /// `GET /api/catalog-items?page[size]=N` (`catalogs:read`; N <= 100).
    pub async fn catalog_items(&self, size: usize) -> Result<Vec<Value>, ConnectorError> {
        let size = size.clamp(1, 100).to_string();
        let body =
            self.get(&["api", "catalog-items"], &[("page[size]", &size)], "catalog items", "catalogs:read").await?;
        Ok(body.at("/data").as_array().cloned().unwrap_or_default())
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
