//! Shopify calls: an access token (a Dev Dashboard app's, minted by the client-credentials
//! grant and cached until shortly before it expires, or a legacy static one) sent as
//! `X-Shopify-Access-Token`; the token's scopes (`GET /admin/oauth/access_scopes.json`,
//! unversioned); the GraphQL Admin API of the pinned version.
//!
//! References: <https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant>,
//! <https://shopify.dev/docs/api/admin-rest/latest/resources/accessscope>,
//! <https://shopify.dev/docs/api/admin-graphql>, <https://shopify.dev/docs/api/usage/rate-limits>.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gateway_connector::api::Api;
use gateway_connector::api::JsonAt;
use gateway_connector::oauth2::token_answer;
use gateway_connector::{ConnectorError, ErrorKind, OutboundClient};
use gateway_domain::now_seconds;
use reqwest::Method;
use serde_json::{Value, json};

use super::config::API_VERSION;
use super::error::{failure, graphql_failure};

const BULK_RUN: &str = "mutation($query: String!, $group: Boolean!) { bulkOperationRunQuery(query: $query, groupObjects: $group) { bulkOperation { id status } userErrors { field message code } } }";
const BULK_CANCEL: &str =
    "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } } }";
const BULK_STATUS: &str =
    "query($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url partialDataUrl } }";

/// A bulk query as `bulkOperation` answers it.
#[derive(Debug, Clone)]
pub struct Bulk {
    /// `CREATED`, `RUNNING`, `COMPLETED`, `CANCELING`, `CANCELED`, `FAILED`, `EXPIRED`.
    pub status: String,
    pub error: Option<String>,
    /// The JSONL file, once `COMPLETED` (none when the query matched nothing).
    pub url: Option<String>,
}

/// How a connection authenticates.
pub enum Auth<'a> {
    /// A Dev Dashboard app: tokens by the client-credentials grant.
    App { client_id: &'a str, client_secret: &'a str },
    /// A legacy custom app's static token.
    Static(&'a str),
}

/// Minted tokens by (shop, app, secret) fingerprint, each with when it stops being used (five
/// minutes before it expires). One mint at a time per app (the lock): concurrent callers wait
/// for it rather than minting twice. Each replica holds its own: a new token does not revoke
/// the others, so replicas need not share one.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, (String, i64)>>,
    minting: tokio::sync::Mutex<()>,
}

fn fingerprint(parts: &[&str]) -> String {
    static SALT: std::sync::OnceLock<aws_lc_rs::hmac::Key> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut bytes = [0u8; 32];
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &bytes)
    });
    let tag = aws_lc_rs::hmac::sign(salt, parts.join("\n").as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Holds a credential: its `Debug` shows none.
#[derive(Clone)]
pub struct Client {
    api: Api,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// What the token endpoint said, and whether the token was minted now.
pub struct Session {
    pub client: Client,
    pub minted: bool,
}

impl Client {
    /// A client with a token: the static one, or the app's (cached, else minted).
    pub async fn connect(
        outbound: &OutboundClient,
        cache: &Arc<TokenCache>,
        shop: &str,
        auth: Auth<'_>,
    ) -> Result<Session, ConnectorError> {
        let api = Api::new(outbound, "SHOPIFY", format!("https://{shop}"), "Shopify");
        let (client_id, client_secret) = match auth {
            Auth::Static(token) => {
                return Ok(Session { client: Client { api, token: token.to_owned() }, minted: false });
            }
            Auth::App { client_id, client_secret } => (client_id, client_secret),
        };
        let key = fingerprint(&[shop, client_id, client_secret]);
        let cached = |now: i64| {
            cache.tokens.lock().ok().and_then(|t| t.get(&key).filter(|(_, until)| *until > now).map(|(t, _)| t.clone()))
        };
        if let Some(token) = cached(now_seconds()) {
            return Ok(Session { client: Client { api, token }, minted: false });
        }
        let _one_mint = cache.minting.lock().await;
        if let Some(token) = cached(now_seconds()) {
            return Ok(Session { client: Client { api, token }, minted: false });
        }
        let url = api.url(&["admin", "oauth", "access_token"], &[])?;
        let body = json!({"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"});
        let answer = api
            .send(
                Method::POST,
                url,
                &[("content-type", "application/json"), ("accept", "application/json")],
                Some(body.to_string().into_bytes()),
            )
            .await?;
        let minted = token_answer(answer.status, &answer.body, answer.header("retry-after"), "Shopify")
            .map_err(|e| match e.message.contains("shop_not_permitted") {
                true => ConnectorError::new(
                    ErrorKind::WrongSpecification,
                    "Shopify refused the client-credentials grant on this shop (shop_not_permitted): the grant works only for an app of the organization that owns the shop; install the app from that organization's Dev Dashboard",
                ),
                false => e,
            })?;
        let lives = minted.expires_in.unwrap_or(86_399).clamp(60, 86_400 * 7);
        let until = now_seconds() + lives - 300;
        if let Ok(mut t) = cache.tokens.lock() {
            let now = now_seconds();
            t.retain(|_, (_, u)| *u > now);
            t.insert(key, (minted.token.clone(), until));
        }
        Ok(Session { client: Client { api, token: minted.token }, minted: true })
    }

    fn headers(&self) -> [(&str, &str); 2] {
        [("x-shopify-access-token", self.token.as_str()), ("accept", "application/json")]
    }

    /// `GET /admin/oauth/access_scopes.json`: the scopes granted to the token.
    pub async fn access_scopes(&self) -> Result<Vec<String>, ConnectorError> {
        let url = self.api.url(&["admin", "oauth", "access_scopes.json"], &[])?;
        let answer = self.api.get(url, &self.headers()).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, "the token's scopes", ""));
        }
        Ok(answer
            .json()
            .at("/access_scopes")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.at("/handle").as_str().map(str::to_owned))
            .collect())
    }

    /// Starts a bulk query (`bulkOperationRunQuery`, `groupObjects` as `group`: children
    /// right below their parent, else anywhere in the file): its id. A refusal because the
    /// shop's bulk queries are busy (`OPERATION_IN_PROGRESS`, `LIMIT_REACHED`: five at once)
    /// is [`ErrorKind::RateLimited`], to be tried again in a minute; any other refusal stands
    /// (<https://shopify.dev/docs/api/usage/bulk-operations/queries>).
    pub async fn bulk_start(
        &self,
        query: &str,
        group: bool,
        what: &str,
        scope: &str,
    ) -> Result<String, ConnectorError> {
        let data = self.graphql(BULK_RUN, json!({"query": query, "group": group}), what, scope).await?;
        let run = data.at("/bulkOperationRunQuery");
        if let Some(e) = run.at("/userErrors").as_array().and_then(|e| e.first()) {
            let message: String = e.at("/message").as_str().unwrap_or_default().chars().take(300).collect();
            let said = format!("Shopify would not start a bulk query for {what}: {message}");
            // Only the shop's bulk queries being busy passes; anything else (INVALID) stays.
            return Err(match e.at("/code").as_str() {
                Some("OPERATION_IN_PROGRESS" | "LIMIT_REACHED") => ConnectorError::new(ErrorKind::RateLimited, said)
                    .retry_after(Some(std::time::Duration::from_secs(60))),
                _ => ConnectorError::new(ErrorKind::WrongSpecification, said),
            });
        }
        run.at("/bulkOperation/id").as_str().map(str::to_owned).ok_or_else(|| {
            ConnectorError::new(ErrorKind::Unavailable, format!("Shopify started no bulk query for {what}"))
        })
    }

    /// Asks Shopify to stop a bulk query (`bulkOperationCancel`), freeing one of the shop's
    /// slots; an operation already finished answers a user error, which is fine.
    pub async fn bulk_cancel(&self, id: &str) -> Result<(), ConnectorError> {
        self.graphql(BULK_CANCEL, json!({"id": id}), "the bulk query's cancel", "").await.map(|_| ())
    }

    /// A bulk query's state (`bulkOperation(id:)`, API 2026-01 and later).
    pub async fn bulk_status(&self, id: &str, what: &str, scope: &str) -> Result<Bulk, ConnectorError> {
        let data = self.graphql(BULK_STATUS, json!({"id": id}), what, scope).await?;
        let op = data.at("/bulkOperation");
        Ok(Bulk {
            status: op.at("/status").as_str().unwrap_or("UNKNOWN").to_owned(),
            error: op.at("/errorCode").as_str().map(str::to_owned),
            url: op.at("/url").as_str().map(str::to_owned),
        })
    }

    /// Reads a finished bulk query's JSONL file a line at a time (each handed to `line`
    /// parsed, until it answers `false`): only from Shopify's storage
    /// (`https://storage.googleapis.com/...`) or this client's own origin, the signed URL
    /// never shown in a message; `timeout` bounds the download.
    pub async fn bulk_lines(
        &self,
        url: &str,
        timeout: std::time::Duration,
        mut line: impl FnMut(Value) -> Result<bool, ConnectorError> + Send,
    ) -> Result<(), ConnectorError> {
        let refused = || {
            ConnectorError::new(
                ErrorKind::WrongSpecification,
                "Shopify named a bulk query's file outside its storage: refused",
            )
        };
        let url = reqwest::Url::parse(url).map_err(|_| refused())?;
        let own = reqwest::Url::parse(&self.api.origin).ok();
        let storage = url.scheme() == "https" && url.host_str() == Some("storage.googleapis.com");
        let same = own.is_some_and(|o| o.origin() == url.origin());
        if !storage && !same {
            return Err(refused());
        }
        let max = usize::try_from(gateway_formats::MAX_RECORD).unwrap_or(usize::MAX);
        let failed = self
            .api
            .get_lines(url, &[], timeout, max, |bytes| {
                let value: Value = serde_json::from_slice(bytes).map_err(|_| {
                    ConnectorError::new(ErrorKind::Unavailable, "a line of Shopify's bulk query file is not JSON")
                })?;
                line(value)
            })
            .await?;
        match failed {
            None => Ok(()),
            Some(answer) => Err(ConnectorError::new(
                ErrorKind::Unavailable,
                format!("Shopify's storage answered {} to the bulk query's file", answer.status),
            )),
        }
    }

    /// `POST /admin/api/{version}/graphql.json`: the `data` of one query, or its failure (an
    /// HTTP error, or GraphQL `errors`: a missing scope, protected customer data, throttling).
    pub async fn graphql(
        &self,
        query: &str,
        variables: Value,
        what: &str,
        scope: &str,
    ) -> Result<Value, ConnectorError> {
        let url = self.api.url(&["admin", "api", API_VERSION, "graphql.json"], &[])?;
        let [token, accept] = self.headers();
        let body = json!({"query": query, "variables": variables}).to_string().into_bytes();
        let answer = self
            .api
            .send(Method::POST, url, &[token, accept, ("content-type", "application/json")], Some(body))
            .await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, what, scope));
        }
        let body = answer.json();
        if let Some(e) = graphql_failure(&body, what, scope) {
            return Err(e);
        }
        Ok(body.at("/data").clone())
    }
}
