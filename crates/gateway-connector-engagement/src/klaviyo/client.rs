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

/// What a table reads whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    Profiles(Group<'a>),
    CatalogItems,
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

    /// One page of a whole read (100 resources, the most Klaviyo serves of profiles and
    /// catalog items): the first without a cursor, each next with the `page[cursor]` of the
    /// `links.next` the last answered (JSON:API cursor pagination,
    /// <https://developers.klaviyo.com/en/docs/api_overview#pagination>). The link is never followed:
    /// its cursor is sent on this client's origin and path. Answers the page's resources and
    /// the next cursor, if any.
    pub async fn page(
        &self,
        source: Source<'_>,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let (segments, what, scopes): (Vec<&str>, String, &str) = match source {
            Source::Profiles(Group::List(id)) => {
                (vec!["api", "lists", id, "profiles"], format!("list '{id}'"), "lists:read, profiles:read")
            }
            Source::Profiles(Group::Segment(id)) => {
                (vec!["api", "segments", id, "profiles"], format!("segment '{id}'"), "segments:read, profiles:read")
            }
            Source::CatalogItems => (vec!["api", "catalog-items"], "catalog items".to_owned(), "catalogs:read"),
        };
        let mut query = vec![("page[size]", "100")];
        if let Some(c) = cursor {
            query.push(("page[cursor]", c));
        }
        let path = self.api.url(&segments, &[])?.path().to_owned();
        let body = self.get(&segments, &query, &what, scopes).await?;
        let data = body.at("/data").as_array().cloned().unwrap_or_default();
        let next = match body.at("/links/next").as_str() {
            Some(link) if !link.is_empty() => {
                Some(gateway_connector::paging::cursor_of(link, &path, "page[cursor]", "Klaviyo")?)
            }
            _ => None,
        };
        Ok((data, next))
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
