//! Iterable calls: `Api-Key` header (the API spec's `securityDefinitions`).

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind, OutboundClient};
use gateway_domain::ConnectionKind;
use serde_json::Value;

use super::error::failure;
use gateway_connector::api::Api;

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    api: Api,
    key: String,
}

/// A list as `GET /api/lists` answers it.
#[derive(Debug, Clone)]
pub struct List {
    pub id: i64,
    pub name: String,
}

/// Catalog answers come wrapped as `{"msg", "code": "Success", "params": {...}}` (Iterable's own
/// client unwraps `params`); the spec shows them bare. Both are read.
fn unwrap_params(v: Value) -> Value {
    match v.get("params") {
        Some(p) if p.is_object() => p.clone(),
        _ => v,
    }
}

impl Client {
    pub fn new(outbound: &OutboundClient, kind: ConnectionKind, region: &str, key: &str) -> Client {
        let origin = super::config::origin(region).to_owned();
        Client { api: Api::new(outbound, kind.as_str(), origin, "Iterable"), key: key.to_owned() }
    }

    async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<gateway_connector::api::Answer, ConnectorError> {
        self.get_as(segments, query, what, "application/json").await
    }

    async fn get_as(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        what: &str,
        accept: &str,
    ) -> Result<gateway_connector::api::Answer, ConnectorError> {
        let url = self.api.url(segments, query)?;
        let answer = self.api.get(url, &[("api-key", &self.key), ("accept", accept)]).await?;
        if answer.ok() { Ok(answer) } else { Err(failure(&self.api, &answer, what)) }
    }

    /// `GET /api/lists`: every list of the project.
    pub async fn lists(&self) -> Result<Vec<List>, ConnectorError> {
        let body = self.get(&["api", "lists"], &[], "lists").await?.json();
        let lists = body.at("/lists").as_array().ok_or_else(|| {
            ConnectorError::new(ErrorKind::Unavailable, "Iterable answered GET /api/lists without lists")
        })?;
        Ok(lists
            .iter()
            .filter_map(|l| {
                Some(List { id: l["id"].as_i64()?, name: l["name"].as_str().unwrap_or_default().to_owned() })
            })
            .collect())
    }

    /// `GET /api/lists/previewUsers?listId=&preferUserId=true&size=`: a random sample of a list's
    /// users, one identifier a line (the spec's `produces: text/plain`, asked for as such; 5
    /// requests a minute per project), bounded by `size` (the unbounded `getUsers` is not used).
    pub async fn preview_users(&self, list_id: i64, size: usize) -> Result<Vec<String>, ConnectorError> {
        let (id, size) = (list_id.to_string(), size.max(1).to_string());
        let answer = self
            .get_as(
                &["api", "lists", "previewUsers"],
                &[("listId", &id), ("preferUserId", "true"), ("size", &size)],
                &format!("list {list_id}"),
                "text/plain",
            )
            .await?;
        Ok(String::from_utf8_lossy(&answer.body)
            .split('\n')
            .map(|l| l.trim_end_matches('\r').trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `GET /api/lists/getUsers?listId=&preferUserId=true`: every user of a list, one
    /// identifier a line (`text/plain`; 5 requests a minute per project), read as it arrives
    /// and handed to `user` until it answers `false`; `timeout` bounds the whole answer.
    pub async fn list_users(
        &self,
        list_id: i64,
        timeout: std::time::Duration,
        mut user: impl FnMut(String) -> Result<bool, ConnectorError> + Send,
    ) -> Result<(), ConnectorError> {
        let id = list_id.to_string();
        let url = self.api.url(&["api", "lists", "getUsers"], &[("listId", &id), ("preferUserId", "true")])?;
        let headers = [("api-key", self.key.as_str()), ("accept", "text/plain")];
        let failed = self
            .api
            .get_lines(url, &headers, timeout, 4096, |line| {
                let id = String::from_utf8_lossy(line).trim().to_owned();
                if id.is_empty() { Ok(true) } else { user(id) }
            })
            .await?;
        match failed {
            None => Ok(()),
            Some(answer) => Err(failure(&self.api, &answer, &format!("list {list_id}"))),
        }
    }

    /// `GET /api/users/getFields`: the project's user fields and their types.
    pub async fn user_fields(&self) -> Result<serde_json::Map<String, Value>, ConnectorError> {
        let body = self.get(&["api", "users", "getFields"], &[], "user fields").await?.json();
        Ok(body.at("/fields").as_object().cloned().unwrap_or_default())
    }

    /// `GET /api/catalogs?page=1&pageSize=1`: proves the key may read catalogs.
    pub async fn catalog_count(&self) -> Result<i64, ConnectorError> {
        let body = unwrap_params(
            self.get(&["api", "catalogs"], &[("page", "1"), ("pageSize", "1")], "catalogs").await?.json(),
        );
        Ok(body.at("/totalCatalogsCount").as_i64().unwrap_or_default())
    }

    /// `GET /api/catalogs/{catalogName}/fieldMappings`: defined field types and undefined fields.
    pub async fn field_mappings(&self, catalog: &str) -> Result<(Vec<(String, String)>, Vec<String>), ConnectorError> {
        let what = format!("catalog '{catalog}'");
        let body = unwrap_params(self.get(&["api", "catalogs", catalog, "fieldMappings"], &[], &what).await?.json());
        let defined = body
            .at("/definedMappings")
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("string").to_owned()))
            .collect();
        let undefined = body
            .at("/undefinedFields")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        Ok((defined, undefined))
    }

    /// `GET /api/catalogs/{catalogName}/items?page=1&pageSize=N`: the first items, each its
    /// `itemId` and `value`.
    pub async fn items(&self, catalog: &str, size: usize) -> Result<Vec<(Value, Value)>, ConnectorError> {
        Ok(self.items_page(catalog, 1, size.clamp(1, 100)).await?.0)
    }

    /// `GET /api/catalogs/{catalogName}/items?page=P&pageSize=N` (pages from 1): a page of
    /// items (each its `itemId`, `null` if it has none, and `value`) and whether another
    /// follows (the answer's `nextPageUrl`).
    pub async fn items_page(
        &self,
        catalog: &str,
        page: u32,
        size: usize,
    ) -> Result<(Vec<(Value, Value)>, bool), ConnectorError> {
        let (page, size) = (page.to_string(), size.to_string());
        let what = format!("catalog '{catalog}'");
        let body = unwrap_params(
            self.get(&["api", "catalogs", catalog, "items"], &[("page", &page), ("pageSize", &size)], &what)
                .await?
                .json(),
        );
        let more = body.at("/nextPageUrl").as_str().is_some_and(|n| !n.is_empty());
        let items = body
            .at("/catalogItemsWithProperties")
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| (i["itemId"].clone(), i["value"].clone()))
            .collect();
        Ok((items, more))
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
