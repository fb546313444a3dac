//! A typed client of the Connections Gateway's HTTP API: one method per operation of its
//! OpenAPI document (`Client::OPERATIONS` lists them, and a test holds the two together),
//! answers as the domain's types, failures as the contract's error names.
//!
//! ```no_run
//! use gateway_client::{Client, TableBody};
//! use gateway_domain::{ConnectionKind, Resource, TableName};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), gateway_client::ClientError> {
//! let gateway = Client::new("http://127.0.0.1:8080", "<bearer token>")?;
//! let creds = json!({"aws_access_key_id": "AKIA...", "aws_secret_access_key": "..."});
//! gateway.put_connection(ConnectionKind::S3, creds.as_object().cloned().unwrap_or_default(), None).await?;
//! let name = TableName::parse("users.csv").map_err(gateway_client::ClientError::from)?;
//! let body = TableBody { resource: Some(Resource::User), ..Default::default() };
//! let preview = gateway.preview_table(ConnectionKind::S3, &name, &body).await?;
//! // Save what the preview answered, then test it again.
//! gateway.patch_table(ConnectionKind::S3, &name, &TableBody::from(preview.table)).await?;
//! let tested = gateway.test_table(ConnectionKind::S3, &name).await?;
//! println!("{}: {}", tested.table.name, tested.table.status);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "arrow")]
mod batches;
#[cfg(feature = "arrow")]
pub use batches::RecordBatches;

use gateway_domain::{
    ConnectionKind, ConnectionView, ConnectionsList, CredentialsCheck, ErrorName, JsonObject, Paging, Problem,
    Resource, TableName, TablePreview, TableStatus, TableView, TablesList, TablesPage,
};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How [`Client::read_rows`] asks for a table's rows.
#[derive(Debug, Clone, Default)]
pub struct RowsQuery {
    /// One split of [`Client::row_splits`] rather than the whole table.
    pub split: Option<String>,
    pub format: RowsFormat,
    /// The platform fields only (`?columns=mapped`).
    pub mapped_only: bool,
    pub invalid: InvalidRows,
    /// Rows served at most.
    pub max_rows: Option<u64>,
}

/// The forms rows are served in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowsFormat {
    /// A JSON object a line.
    #[default]
    NdJson,
    /// Arrow IPC stream.
    Arrow,
    Csv,
    Parquet,
}

impl RowsFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            RowsFormat::NdJson => "ndjson",
            RowsFormat::Arrow => "arrow",
            RowsFormat::Csv => "csv",
            RowsFormat::Parquet => "parquet",
        }
    }
}

/// What becomes of a row that breaks its resource's rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvalidRows {
    /// Left out (and counted in the read's audit entry).
    #[default]
    Skip,
    /// The read stops at it.
    Fail,
    /// Served, with the rules it breaks in `_error`.
    Include,
}

impl InvalidRows {
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidRows::Skip => "skip",
            InvalidRows::Fail => "fail",
            InvalidRows::Include => "include",
        }
    }
}

/// A failure: the gateway's own answer (its error name, message and data), or the way there.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway answered an error body.
    #[error("{status} {}: {message}", name.map_or("ERROR", |n| n.as_str()))]
    Api {
        status: u16,
        /// The contract's error name; `None` for one this client does not know.
        name: Option<ErrorName>,
        message: String,
        data: JsonObject,
    },
    /// The gateway could not be reached or answered something else than JSON.
    #[error("{0}")]
    Transport(String),
    /// A value given to the client is not valid (a table name, a URL).
    #[error("{0}")]
    Invalid(String),
}

impl From<Problem> for ClientError {
    fn from(p: Problem) -> Self {
        ClientError::Invalid(p.message)
    }
}

impl ClientError {
    /// The contract's error name of an API failure.
    pub fn name(&self) -> Option<ErrorName> {
        match self {
            ClientError::Api { name, .. } => *name,
            _ => None,
        }
    }
}

/// The fields of a table's PATCH and preview bodies (each optional: a shallow merge).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_params: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_table_params: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_table_metadata: Option<JsonObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TableStatus>,
}

/// A table as answered, as a body to save it back as it is.
impl From<TableView> for TableBody {
    fn from(t: TableView) -> Self {
        TableBody {
            resource: Some(t.resource),
            resource_params: Some(t.resource_params),
            connection_table_params: Some(t.connection_table_params),
            connection_table_metadata: Some(t.connection_table_metadata),
            status: None,
        }
    }
}

/// The gateway at an address, called with a bearer token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl Client {
    /// Every operation of the gateway's OpenAPI document, as (method, path template, the
    /// client method that calls it).
    pub const OPERATIONS: &'static [(&'static str, &'static str, &'static str)] = &[
        ("get", "/healthz", "health"),
        ("get", "/readyz", "ready"),
        ("get", "/metrics", "metrics"),
        ("get", "/openapi.json", "openapi"),
        ("get", "/connections/", "list_connections"),
        ("get", "/connections/{connection}/", "get_connection"),
        ("put", "/connections/{connection}/", "put_connection"),
        ("delete", "/connections/{connection}/", "delete_connection"),
        ("post", "/connections/{connection}/test/", "test_credentials"),
        ("get", "/connections/{connection}/spec/", "connection_spec"),
        ("get", "/connections/{connection}/tables/", "list_tables"),
        ("get", "/connections/{connection}/tables/{name}/", "get_table"),
        ("patch", "/connections/{connection}/tables/{name}/", "patch_table"),
        ("delete", "/connections/{connection}/tables/{name}/", "delete_table"),
        ("post", "/connections/{connection}/tables/{name}/test/", "preview_table"),
        ("get", "/connections/{connection}/tables/{name}/test/", "test_table"),
        ("post", "/connections/{connection}/tables/{name}/validations/", "start_validation"),
        ("get", "/connections/{connection}/tables/{name}/validations/", "list_validations"),
        ("get", "/connections/{connection}/tables/{name}/validations/{id}/", "get_validation"),
        ("delete", "/connections/{connection}/tables/{name}/validations/{id}/", "cancel_validation"),
        ("get", "/connections/{connection}/tables/{name}/rows/", "read_rows"),
        ("get", "/connections/{connection}/tables/{name}/rows/splits/", "row_splits"),
        ("get", "/connections/{connection}/tables/{name}/schema/", "schema_history"),
        ("get", "/connections/{connection}/tables/{name}/files/", "list_files"),
        ("delete", "/connections/{connection}/tables/{name}/files/", "delete_files"),
        ("get", "/tables/", "filter_tables"),
        ("put", "/uploads/{token}", "upload"),
        ("get", "/webhooks/", "list_webhooks"),
        ("get", "/webhooks/{id}/", "get_webhook"),
        ("put", "/webhooks/{id}/", "put_webhook"),
        ("delete", "/webhooks/{id}/", "delete_webhook"),
        ("post", "/webhooks/{id}/test/", "test_webhook"),
        ("get", "/audit/", "audit"),
    ];

    /// A client of the gateway at `base` (`http://host:port`), calling with `token`.
    pub fn new(base: &str, token: &str) -> Result<Client, ClientError> {
        let base = Url::parse(base).map_err(|e| ClientError::Invalid(format!("'{base}' is not a URL: {e}")))?;
        let http = reqwest::Client::builder().build().map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Client { http, base, token: token.to_owned() })
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::Invalid("the base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments)
            .push("");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn call<T: DeserializeOwned>(&self, method: Method, url: Url, body: Option<Value>) -> Result<T, ClientError> {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(|e| ClientError::Transport(e.without_url().to_string()))?;
        answer(res).await
    }

    pub async fn health(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, self.url(&["healthz"], &[])?, None).await
    }

    pub async fn ready(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, self.url(&["readyz"], &[])?, None).await
    }

    /// The gateway's Prometheus metrics, as text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let url = self.base.join("/metrics").map_err(|e| ClientError::Invalid(e.to_string()))?;
        let res = self.http.get(url).send().await.map_err(|e| ClientError::Transport(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return answer(res).await;
        }
        res.text().await.map_err(|e| ClientError::Transport(e.without_url().to_string()))
    }

    /// The gateway's OpenAPI 3.1 document.
    pub async fn openapi(&self) -> Result<Value, ClientError> {
        let url = self.base.join("/openapi.json").map_err(|e| ClientError::Invalid(e.to_string()))?;
        self.call(Method::GET, url, None).await
    }

    pub async fn list_connections(&self) -> Result<ConnectionsList, ClientError> {
        self.call(Method::GET, self.url(&["connections"], &[])?, None).await
    }

    pub async fn get_connection(&self, kind: ConnectionKind) -> Result<ConnectionView, ClientError> {
        self.call(Method::GET, self.url(&["connections", kind.as_str()], &[])?, None).await
    }

    /// Creates or replaces a connection. A `"********"` value keeps the stored one.
    pub async fn put_connection(
        &self,
        kind: ConnectionKind,
        credentials: JsonObject,
        metadata: Option<JsonObject>,
    ) -> Result<ConnectionView, ClientError> {
        let mut body = serde_json::json!({"credentials": credentials});
        if let Some(m) = metadata {
            body["metadata"] = Value::Object(m);
        }
        self.call(Method::PUT, self.url(&["connections", kind.as_str()], &[])?, Some(body)).await
    }

    /// Deletes a connection; with `force`, its tables too.
    pub async fn delete_connection(&self, kind: ConnectionKind, force: bool) -> Result<(), ClientError> {
        let query = if force { vec![("force", "true".to_owned())] } else { Vec::new() };
        self.call::<Value>(Method::DELETE, self.url(&["connections", kind.as_str()], &query)?, None).await.map(|_| ())
    }

    /// Tests credentials live: those given, else the stored ones.
    pub async fn test_credentials(
        &self,
        kind: ConnectionKind,
        credentials: Option<JsonObject>,
    ) -> Result<CredentialsCheck, ClientError> {
        let body = credentials.map(|c| serde_json::json!({"credentials": c})).unwrap_or_else(|| serde_json::json!({}));
        self.call(Method::POST, self.url(&["connections", kind.as_str(), "test"], &[])?, Some(body)).await
    }

    /// The credentials and table params a kind takes, as JSON Schema.
    pub async fn connection_spec(&self, kind: ConnectionKind) -> Result<Value, ClientError> {
        self.call(Method::GET, self.url(&["connections", kind.as_str(), "spec"], &[])?, None).await
    }

    /// Deprecated by the contract: use [`Client::filter_tables`].
    pub async fn list_tables(&self, kind: ConnectionKind) -> Result<TablesList, ClientError> {
        self.call(Method::GET, self.url(&["connections", kind.as_str(), "tables"], &[])?, None).await
    }

    pub async fn get_table(&self, kind: ConnectionKind, name: &TableName) -> Result<TableView, ClientError> {
        self.call(Method::GET, self.url(&["connections", kind.as_str(), "tables", name.as_str()], &[])?, None).await
    }

    /// Creates a table or merges `body` over the stored one (shallow).
    pub async fn patch_table(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        body: &TableBody,
    ) -> Result<TableView, ClientError> {
        let body = serde_json::to_value(body).map_err(|e| ClientError::Invalid(e.to_string()))?;
        self.call(Method::PATCH, self.url(&["connections", kind.as_str(), "tables", name.as_str()], &[])?, Some(body))
            .await
    }

    pub async fn delete_table(&self, kind: ConnectionKind, name: &TableName) -> Result<(), ClientError> {
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str()], &[])?;
        self.call::<Value>(Method::DELETE, url, None).await.map(|_| ())
    }

    /// Preview and validate: merges `body` over the stored table and opens it; stores nothing.
    pub async fn preview_table(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        body: &TableBody,
    ) -> Result<TablePreview, ClientError> {
        let body = serde_json::to_value(body).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "test"], &[])?;
        self.call(Method::POST, url, Some(body)).await
    }

    /// Starts a validation of the whole stored table (or answers the one queued or running
    /// for it); poll [`Client::get_validation`] until its state is final.
    pub async fn start_validation(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        request: &gateway_domain::ValidationRequest,
    ) -> Result<gateway_domain::ValidationView, ClientError> {
        let body = serde_json::to_value(request).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "validations"], &[])?;
        self.call(Method::POST, url, Some(body)).await
    }

    /// A table's validations, newest first.
    pub async fn list_validations(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<gateway_domain::ValidationsPage, ClientError> {
        let query = vec![("page", paging.page().to_string()), ("amt", paging.amt().to_string())];
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "validations"], &query)?;
        self.call(Method::GET, url, None).await
    }

    pub async fn get_validation(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        id: &str,
    ) -> Result<gateway_domain::ValidationView, ClientError> {
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "validations", id], &[])?;
        self.call(Method::GET, url, None).await
    }

    /// Cancels a validation (a finished one is left as it is).
    pub async fn cancel_validation(&self, kind: ConnectionKind, name: &TableName, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "validations", id], &[])?;
        self.call::<Value>(Method::DELETE, url, None).await.map(|_| ())
    }

    /// The schemas recorded tests saw of a table, newest first.
    pub async fn schema_history(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<gateway_domain::SchemaHistory, ClientError> {
        let query = vec![("page", paging.page().to_string()), ("amt", paging.amt().to_string())];
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "schema"], &query)?;
        self.call(Method::GET, url, None).await
    }

    /// Starts reading a stored source table's rows (`GET .../rows/`): the response, its body
    /// to stream (`bytes_stream`) in the form asked for. An error answer is the error; a read
    /// that fails once under way ends its body early (the stream's last item an error).
    pub async fn read_rows(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        query: &RowsQuery,
    ) -> Result<reqwest::Response, ClientError> {
        let mut q: Vec<(&str, String)> = vec![("format", query.format.as_str().to_owned())];
        if query.mapped_only {
            q.push(("columns", "mapped".to_owned()));
        }
        q.push(("invalid", query.invalid.as_str().to_owned()));
        if let Some(m) = query.max_rows {
            q.push(("max_rows", m.to_string()));
        }
        if let Some(s) = &query.split {
            q.push(("split", s.clone()));
        }
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "rows"], &q)?;
        let res = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.without_url().to_string()))?;
        if res.status().is_success() {
            return Ok(res);
        }
        Err(answer::<Value>(res)
            .await
            .err()
            .unwrap_or_else(|| ClientError::Transport("an error without a body".into())))
    }

    /// A table's independent parts, each read by [`Client::read_rows`] with its `split`.
    pub async fn row_splits(
        &self,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<gateway_domain::RowSplits, ClientError> {
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "rows", "splits"], &[])?;
        self.call(Method::GET, url, None).await
    }

    /// A LOCAL table's uploaded files by name.
    pub async fn list_files(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<gateway_domain::UploadedFiles, ClientError> {
        let query = vec![("page", paging.page().to_string()), ("amt", paging.amt().to_string())];
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "files"], &query)?;
        self.call(Method::GET, url, None).await
    }

    /// Deletes one file of a LOCAL table's set (`Some`), or every file it holds (`None`).
    pub async fn delete_files(
        &self,
        kind: ConnectionKind,
        name: &TableName,
        file: Option<&str>,
    ) -> Result<(), ClientError> {
        let query = match file {
            Some(f) => vec![("file", f.to_owned())],
            None => vec![("all", "true".to_owned())],
        };
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "files"], &query)?;
        self.call::<Value>(Method::DELETE, url, None).await.map(|_| ())
    }

    /// Tests the stored table and records its status.
    pub async fn test_table(&self, kind: ConnectionKind, name: &TableName) -> Result<TablePreview, ClientError> {
        let url = self.url(&["connections", kind.as_str(), "tables", name.as_str(), "test"], &[])?;
        self.call(Method::GET, url, None).await
    }

    /// A page of the organization's tables.
    pub async fn filter_tables(
        &self,
        connection: Option<ConnectionKind>,
        resource: Option<Resource>,
        paging: Paging,
    ) -> Result<TablesPage, ClientError> {
        let mut query = vec![("page", paging.page().to_string()), ("amt", paging.amt().to_string())];
        if let Some(c) = connection {
            query.push(("connection", c.as_str().to_owned()));
        }
        if let Some(r) = resource {
            query.push(("resource", r.as_str().to_owned()));
        }
        self.call(Method::GET, self.url(&["tables"], &query)?, None).await
    }

    /// The organization's webhook endpoints (root and manager).
    pub async fn list_webhooks(&self) -> Result<Vec<gateway_domain::Webhook>, ClientError> {
        let list: gateway_domain::WebhooksList = self.call(Method::GET, self.url(&["webhooks"], &[])?, None).await?;
        Ok(list.webhooks)
    }

    pub async fn get_webhook(&self, id: &gateway_domain::WebhookId) -> Result<gateway_domain::Webhook, ClientError> {
        self.call(Method::GET, self.url(&["webhooks", id.as_str()], &[])?, None).await
    }

    /// Creates or replaces an endpoint: `{"url": ..., "events": [...], "description": ...,
    /// "rotate_secret": bool}`. The answer's `secret` is there when it was created or rotated:
    /// keep it, it is not shown again.
    pub async fn put_webhook(
        &self,
        id: &gateway_domain::WebhookId,
        body: Value,
    ) -> Result<gateway_domain::WebhookView, ClientError> {
        self.call(Method::PUT, self.url(&["webhooks", id.as_str()], &[])?, Some(body)).await
    }

    pub async fn delete_webhook(&self, id: &gateway_domain::WebhookId) -> Result<(), ClientError> {
        self.call::<Value>(Method::DELETE, self.url(&["webhooks", id.as_str()], &[])?, None).await.map(|_| ())
    }

    /// Sends a signed `ping` to the endpoint now; answers what it said (`delivered`,
    /// `status_code`), or the error when it did not accept it.
    pub async fn test_webhook(&self, id: &gateway_domain::WebhookId) -> Result<Value, ClientError> {
        self.call(Method::POST, self.url(&["webhooks", id.as_str(), "test"], &[])?, None).await
    }

    /// One page of the audit trail, newest first (root and manager).
    pub async fn audit(&self, paging: Paging) -> Result<gateway_domain::AuditPage, ClientError> {
        let query = vec![("page", paging.page().to_string()), ("amt", paging.amt().to_string())];
        self.call(Method::GET, self.url(&["audit"], &query)?, None).await
    }

    /// The page an answer's `next_cursor` leads to, with the same filters and `amt`: found by a
    /// seek, as fast at the end of a long list as at its start.
    pub async fn filter_tables_after(
        &self,
        connection: Option<ConnectionKind>,
        resource: Option<Resource>,
        cursor: &str,
        amt: u32,
    ) -> Result<TablesPage, ClientError> {
        let mut query = vec![("cursor", cursor.to_owned()), ("amt", amt.to_string())];
        if let Some(c) = connection {
            query.push(("connection", c.as_str().to_owned()));
        }
        if let Some(r) = resource {
            query.push(("resource", r.as_str().to_owned()));
        }
        self.call(Method::GET, self.url(&["tables"], &query)?, None).await
    }

    /// Uploads a LOCAL table's file to the URL its PATCH answered; answers its preview.
    pub async fn upload(&self, url: &str, body: impl Into<reqwest::Body>) -> Result<TablePreview, ClientError> {
        let url = Url::parse(url).map_err(|e| ClientError::Invalid(format!("not an upload URL: {e}")))?;
        self.put_upload(url, body).await
    }

    /// Uploads one file of a LOCAL table's set under `file` (added, or replacing the one of
    /// that name) to the URL the table's PATCH answered.
    pub async fn upload_file(
        &self,
        url: &str,
        file: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<TablePreview, ClientError> {
        let mut url = Url::parse(url).map_err(|e| ClientError::Invalid(format!("not an upload URL: {e}")))?;
        url.query_pairs_mut().append_pair("file", file);
        self.put_upload(url, body).await
    }

    async fn put_upload(&self, url: Url, body: impl Into<reqwest::Body>) -> Result<TablePreview, ClientError> {
        let res = self
            .http
            .put(url)
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.without_url().to_string()))?;
        answer(res).await
    }
}

async fn answer<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, ClientError> {
    let status = res.status().as_u16();
    let bytes = res.bytes().await.map_err(|e| ClientError::Transport(e.without_url().to_string()))?;
    if (200..300).contains(&status) {
        let body = if bytes.is_empty() { b"null".as_slice() } else { &bytes[..] };
        return serde_json::from_slice(body)
            .map_err(|e| ClientError::Transport(format!("the gateway's answer could not be read: {e}")));
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Err(ClientError::Api {
        status,
        name: body["error_name"].as_str().and_then(ErrorName::from_wire),
        message: body["message"].as_str().unwrap_or("the gateway answered an error without a body").to_owned(),
        data: body["error_data"].as_object().cloned().unwrap_or_default(),
    })
}
