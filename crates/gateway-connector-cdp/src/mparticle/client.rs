//! mParticle Platform API calls: a token by the client-credentials grant, sent as JSON (what
//! the platform docs show, unlike RFC 6749's form), then data plans.

use gateway_connector::api::Api;
use gateway_connector::oauth2::{AccessToken, token_answer};
use gateway_connector::{ConnectorError, OutboundClient};
use reqwest::Method;
use serde_json::{Value, json};

use super::config;
use super::error::platform_failure;

/// Holds a credential: its `Debug` shows none.
pub struct Client {
    sso: Api,
    platform: Api,
}

impl Client {
    pub fn new(outbound: &OutboundClient) -> Client {
        Client {
            sso: Api::new(outbound, config::SSO_PEER, config::SSO.to_owned(), "mParticle's token endpoint"),
            platform: Api::new(
                outbound,
                config::PLATFORM_PEER,
                config::PLATFORM.to_owned(),
                "the mParticle Platform API",
            ),
        }
    }

    /// `POST /oauth/token` `{"client_id", "client_secret", "audience": "https://api.mparticle.com",
    /// "grant_type": "client_credentials"}`.
    pub async fn token(&self, client_id: &str, client_secret: &str) -> Result<AccessToken, ConnectorError> {
        let url = self.sso.url(&["oauth", "token"], &[])?;
        let body = json!({"client_id": client_id, "client_secret": client_secret, "audience": "https://api.mparticle.com", "grant_type": "client_credentials"});
        let answer = self
            .sso
            .send(
                Method::POST,
                url,
                &[("content-type", "application/json"), ("accept", "application/json")],
                Some(body.to_string().into_bytes()),
            )
            .await?;
        token_answer(answer.status, &answer.body, answer.header("retry-after"), "mParticle")
    }

    /// `GET /platform/v2/workspaces/{id}/plans`: the workspace's data plans (a bare array).
    pub async fn plans(&self, token: &str, workspace: &str) -> Result<Vec<Value>, ConnectorError> {
        let url = self.platform.url(&["platform", "v2", "workspaces", workspace, "plans"], &[])?;
        let auth = format!("Bearer {token}");
        let answer = self.platform.get(url, &[("authorization", &auth), ("accept", "application/json")]).await?;
        if !answer.ok() {
            return Err(platform_failure(&self.platform, &answer, workspace));
        }
        Ok(answer.json().as_array().cloned().unwrap_or_default())
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}
