//! Salesforce calls: the client-credentials token at the org's My Domain (client id and
//! secret in the form body, as Salesforce's own sample sends them), then REST calls with the
//! Bearer token at the instance the token names.

use gateway_connector::api::Api;
use gateway_connector::api::JsonAt;
use gateway_connector::oauth2::{ClientAuth, client_credentials};
use gateway_connector::{ConnectorError, ErrorKind, OutboundClient};
use serde_json::Value;

use super::config::{API_VERSION, instance_ok};
use super::error::rest_failure;

/// A session: the REST API of the instance the token was issued for.
pub struct Session {
    api: Api,
    auth: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("instance", &self.api.origin).finish_non_exhaustive()
    }
}

/// Exchanges the client credentials at `https://{domain}/services/oauth2/token`.
pub async fn login(
    outbound: &OutboundClient,
    domain: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<Session, ConnectorError> {
    let token_api = Api::new(outbound, "SALESFORCE", format!("https://{domain}"), "Salesforce");
    let url = token_api.url(&["services", "oauth2", "token"], &[])?;
    let token =
        client_credentials(outbound, url, client_id, client_secret, None, ClientAuth::Body, "Salesforce").await?;
    let instance = token.extra.get("instance_url").and_then(Value::as_str).unwrap_or_default().to_owned();
    // The instance comes from the provider's answer: it must itself be a Salesforce host.
    if !instance_ok(&instance) {
        return Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            "Salesforce's token answer named an instance_url that is not an https *.salesforce.com host: refused",
        ));
    }
    // A peer in tests stands for the instance too.
    let api = Api::new(outbound, "SALESFORCE", instance, "Salesforce");
    Ok(Session { api, auth: format!("Bearer {}", token.token) })
}

impl Session {
    pub fn instance(&self) -> &str {
        &self.api.origin
    }

    async fn get(&self, segments: &[&str], query: &[(&str, &str)], what: &str) -> Result<Value, ConnectorError> {
        let mut path = vec!["services", "data", API_VERSION];
        path.extend_from_slice(segments);
        let url = self.api.url(&path, query)?;
        let answer = self.api.get(url, &[("authorization", &self.auth), ("accept", "application/json")]).await?;
        if answer.ok() { Ok(answer.json()) } else { Err(rest_failure(&self.api, &answer, what)) }
    }

    /// `GET /services/data/vNN.N/limits/`: the org's limits (needs "View Setup and Configuration").
    pub async fn limits(&self) -> Result<Value, ConnectorError> {
        self.get(&["limits", ""], &[], "the org's limits").await
    }

    /// `GET /services/data/vNN.N/sobjects/`: the objects the user may see (the fallback check).
    pub async fn sobjects(&self) -> Result<Value, ConnectorError> {
        self.get(&["sobjects", ""], &[], "the list of sObjects").await
    }

    /// `GET /services/data/vNN.N/sobjects/{object}/describe/`.
    pub async fn describe(&self, object: &str) -> Result<Value, ConnectorError> {
        self.get(&["sobjects", object, "describe", ""], &[], &format!("sObject {object}")).await
    }

    /// `GET /services/data/vNN.N/query/?q=...`: the first records of a SOQL query.
    pub async fn query(&self, soql: &str, object: &str) -> Result<Vec<Value>, ConnectorError> {
        let body = self.get(&["query", ""], &[("q", soql)], &format!("sObject {object}")).await?;
        Ok(body.at("/records").as_array().cloned().unwrap_or_default())
    }

    /// One page of a SOQL query's records (Salesforce pages them, up to 2,000 each): the first
    /// by `GET .../query/?q=`, each next by the `nextRecordsUrl` the last answered
    /// (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm>).
    /// The answer's URL is followed only as a query locator of this version on this instance
    /// (a single `[A-Za-z0-9-]` segment after `/services/data/vNN.N/query/`). Answers the
    /// records and the next page's locator, if any.
    pub async fn query_page(
        &self,
        page: &QueryPage<'_>,
        object: &str,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let what = format!("sObject {object}");
        let body = match page {
            QueryPage::First(soql) => self.get(&["query", ""], &[("q", soql)], &what).await?,
            QueryPage::Next(locator) => self.get(&["query", locator], &[], &what).await?,
        };
        let records = body.at("/records").as_array().cloned().unwrap_or_default();
        if body.at("/done").as_bool() != Some(false) {
            return Ok((records, None));
        }
        let next = body.at("/nextRecordsUrl").as_str().unwrap_or_default();
        let prefix = format!("/services/data/{API_VERSION}/query/");
        let locator = next
            .strip_prefix(&prefix)
            .filter(|l| !l.is_empty() && l.len() <= 64 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .ok_or_else(|| {
                ConnectorError::new(
                    ErrorKind::WrongSpecification,
                    format!("Salesforce answered {what}'s query with a nextRecordsUrl that is not a query locator of {prefix}: refused"),
                )
            })?;
        Ok((records, Some(locator.to_owned())))
    }
}

/// Which page of a query to read.
#[derive(Debug)]
pub enum QueryPage<'a> {
    /// The query itself.
    First(&'a str),
    /// The locator of a next page.
    Next(String),
}
