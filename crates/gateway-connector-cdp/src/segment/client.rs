//! Segment calls.

use gateway_connector::api::Api;
use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, OutboundClient};
use serde_json::Value;

use super::config;
use super::error::{api_failure, settings_failure};

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    cdn: Api,
    public: Api,
}

impl Client {
    pub fn new(outbound: &OutboundClient, region: &str) -> Client {
        Client {
            cdn: Api::new(outbound, "SEGMENT", config::CDN.to_owned(), "Segment"),
            public: Api::new(
                outbound,
                config::PUBLIC_API_PEER,
                config::public_api(region).to_owned(),
                "the Segment Public API",
            ),
        }
    }

    /// `GET /v1/projects/{writeKey}/settings`, unauthenticated, as analytics-next fetches it.
    pub async fn settings(&self, write_key: &str) -> Result<Value, ConnectorError> {
        let url = self.cdn.url(&["v1", "projects", write_key, "settings"], &[])?;
        let answer = self.cdn.get(url, &[("accept", "application/json")]).await?;
        if answer.ok() { Ok(answer.json()) } else { Err(settings_failure(&self.cdn, &answer)) }
    }

    /// `GET /sources?pagination.count=200` (pages followed, at most 5): the write keys of the
    /// workspace's sources, `None` when the token may not see them (the API leaves
    /// `writeKeys` empty without the Source Admin permission).
    pub async fn source_write_keys(&self, token: &str) -> Result<Option<Vec<String>>, ConnectorError> {
        let auth = format!("Bearer {token}");
        let mut keys = Vec::new();
        let mut visible = false;
        let mut cursor: Option<String> = None;
        for _ in 0..5 {
            let mut query = vec![("pagination.count", "200".to_owned())];
            if let Some(c) = &cursor {
                query.push(("pagination.cursor", c.clone()));
            }
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let url = self.public.url(&["sources"], &q)?;
            let answer = self.public.get(url, &[("authorization", &auth), ("accept", "application/json")]).await?;
            if !answer.ok() {
                return Err(api_failure(&self.public, &answer));
            }
            let body = answer.json();
            for source in body.at("/data/sources").as_array().into_iter().flatten() {
                let found = source.at("/writeKeys").as_array().into_iter().flatten().filter_map(Value::as_str);
                for k in found {
                    visible = true;
                    keys.push(k.to_owned());
                }
            }
            cursor = body.at("/data/pagination/next").as_str().map(str::to_owned);
            if cursor.is_none() {
                return Ok(visible.then_some(keys));
            }
        }
        // More than five pages of sources: the key may be on a page not read, so it cannot
        // be told absent.
        Ok(None)
    }

    /// `GET /` with the token: its workspace.
    pub async fn workspace(&self, token: &str) -> Result<Value, ConnectorError> {
        let url = self.public.url(&[""], &[])?;
        let auth = format!("Bearer {token}");
        let answer = self.public.get(url, &[("authorization", &auth), ("accept", "application/json")]).await?;
        if answer.ok() {
            Ok(answer.json().at("/data/workspace").clone())
        } else {
            Err(api_failure(&self.public, &answer))
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
