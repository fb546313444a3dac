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
