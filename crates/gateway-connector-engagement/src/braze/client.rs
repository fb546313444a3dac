//! Braze REST calls: Bearer auth (<https://www.braze.com/docs/api/basics/#rest-api-key>).

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind, OutboundClient};
use serde_json::Value;

use super::error::failure;
use gateway_connector::api::Api;

/// A catalog as `GET /catalogs` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub name: String,
    pub fields: Vec<(String, String)>,
    pub num_items: Option<u64>,
}

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    api: Api,
    instance: String,
    auth: String,
}

impl Client {
    pub fn new(outbound: &OutboundClient, instance: &str, api_key: &str) -> Client {
        Client {
            api: Api::new(outbound, "BRAZE", format!("https://{instance}"), "Braze"),
            instance: instance.to_owned(),
            auth: format!("Bearer {api_key}"),
        }
    }

    /// `GET /catalogs` (permission `catalogs.get`): every catalog with its fields
    /// (<https://www.braze.com/docs/api/endpoints/catalogs/catalog_management/synchronous/get_list_catalogs/>).
    pub async fn catalogs(&self) -> Result<Vec<Catalog>, ConnectorError> {
        let url = self.api.url(&["catalogs"], &[])?;
        let answer = self.api.get(url, &[("authorization", &self.auth), ("accept", "application/json")]).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, "catalogs.get", &self.instance));
        }
        let body = answer.json();
        let list = body.at("/catalogs").as_array().ok_or_else(|| {
            ConnectorError::new(ErrorKind::Unavailable, "Braze answered GET /catalogs without a catalogs list")
        })?;
        Ok(list
            .iter()
            .filter_map(|c| {
                Some(Catalog {
                    name: c["name"].as_str()?.to_owned(),
                    fields: c["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| {
                            Some((f["name"].as_str()?.to_owned(), f["type"].as_str().unwrap_or("string").to_owned()))
                        })
                        .collect(),
                    num_items: c["num_items"].as_u64(),
                })
            })
            .collect())
    }

    /// `GET /catalogs/{catalog_name}/items` (permission `catalogs.get_items`): the first page
    /// (at most 50 items)
    /// (<https://www.braze.com/docs/api/endpoints/catalogs/catalog_items/synchronous/get_catalog_items_details_bulk/>).
    pub async fn items(&self, catalog: &str) -> Result<Vec<Value>, ConnectorError> {
        Ok(self.items_page(catalog, None).await?.0)
    }

    /// One page of a catalog's items (50, Braze's fixed page): the first without a cursor,
    /// each next with the `cursor` of the `Link` header's `rel="next"` the last answered (the
    /// same page). The link is never followed: its cursor is sent on this client's origin and
    /// path. Answers the items and the next cursor, if any.
    pub async fn items_page(
        &self,
        catalog: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let segments = ["catalogs", catalog, "items"];
        let path = self.api.url(&segments, &[])?.path().to_owned();
        let query: Vec<(&str, &str)> = cursor.map(|c| ("cursor", c)).into_iter().collect();
        let url = self.api.url(&segments, &query)?;
        let answer = self.api.get(url, &[("authorization", &self.auth), ("accept", "application/json")]).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, "catalogs.get_items", &self.instance));
        }
        let next = match answer.header("link").and_then(gateway_connector::paging::link_next) {
            Some(link) => Some(gateway_connector::paging::cursor_of(link, &path, "cursor", "Braze")?),
            None => None,
        };
        Ok((answer.json().at("/items").as_array().cloned().unwrap_or_default(), next))
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
