//! BigQuery REST calls with an access token from Google's shared auth; a token BigQuery
//! refuses (401) is forgotten and the call made once more with a fresh one.

use gateway_connector::api::JsonAt;
use gateway_connector::api::{Answer, Api};
use gateway_connector::google::{GoogleAuth, ServiceAccountKey};
use gateway_connector::{ConnectorError, OutboundClient};
use reqwest::Method;
use serde_json::{Value, json};

use super::config::{API, MAX_BYTES_BILLED, SCOPE, TableRef};
use super::error::{failure, query_errors};

#[derive(Debug)]
pub struct Client {
    api: Api,
}

impl Client {
    pub fn new(outbound: &OutboundClient) -> Client {
        Client { api: Api::new(outbound, "BIGQUERY", API.to_owned(), "BigQuery") }
    }

    /// A call with the key's token, refreshed once on a 401.
    async fn call(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Answer, ConnectorError> {
        let mut path = vec!["bigquery", "v2"];
        path.extend_from_slice(segments);
        for attempt in 0..2 {
            let token = auth.token(key, SCOPE).await?;
            let bearer = format!("Bearer {token}");
            let url = self.api.url(&path, query)?;
            let headers = [
                ("authorization", bearer.as_str()),
                ("accept", "application/json"),
                ("content-type", "application/json"),
            ];
            let answer =
                self.api.send(method.clone(), url, &headers, body.as_ref().map(|b| b.to_string().into_bytes())).await?;
            if answer.status == 401 && attempt == 0 {
                auth.forget(key, SCOPE);
                continue;
            }
            return Ok(answer);
        }
        unreachable!("the loop returns on its second attempt")
    }

    async fn json(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        segments: &[&str],
        query: &[(&str, &str)],
        what: &str,
        role: &str,
    ) -> Result<Value, ConnectorError> {
        let answer = self.call(auth, key, Method::GET, segments, query, None).await?;
        if answer.ok() { Ok(answer.json()) } else { Err(failure(&self.api, &answer, what, role)) }
    }

    /// A dry-run `jobs.query` billed to `billing`: validates the query, the key's right to run
    /// jobs there (`bigquery.jobs.create`) and to read every table it names
    /// (`bigquery.tables.getData`), and answers the bytes it would process; nothing runs or
    /// is billed (<https://cloud.google.com/bigquery/docs/dry-run-queries>).
    pub async fn dry_run(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        billing: &str,
        location: Option<&str>,
        query: &str,
        what: &str,
    ) -> Result<Value, ConnectorError> {
        let mut body = json!({"query": query, "useLegacySql": false, "dryRun": true});
        if let (Some(l), Some(o)) = (location, body.as_object_mut()) {
            o.insert("location".into(), json!(l));
        }
        let answer = self.call(auth, key, Method::POST, &["projects", billing, "queries"], &[], Some(body)).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, what, &query_role(&answer.json(), billing)));
        }
        let body = answer.json();
        match query_errors(&body, what) {
            Some(e) => Err(e),
            None => Ok(body),
        }
    }

    /// `datasets.get`.
    pub async fn dataset(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        t: &TableRef,
    ) -> Result<Value, ConnectorError> {
        self.json(
            auth,
            key,
            &["projects", &t.project, "datasets", &t.dataset],
            &[],
            &format!("dataset {}.{}", t.project, t.dataset),
            "bigquery.datasets.get on the dataset",
        )
        .await
    }

    /// `tables.get`: `Ok(None)` for a table that does not exist (the dataset does).
    pub async fn table(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        t: &TableRef,
    ) -> Result<Option<Value>, ConnectorError> {
        let answer = self
            .call(
                auth,
                key,
                Method::GET,
                &["projects", &t.project, "datasets", &t.dataset, "tables", &t.table],
                &[],
                None,
            )
            .await?;
        match answer.status {
            200..=299 => Ok(Some(answer.json())),
            404 => Ok(None),
            _ => Err(failure(&self.api, &answer, &format!("table {t}"), "bigquery.tables.get on the dataset")),
        }
    }

    /// `tabledata.list` with maxResults.
    pub async fn rows(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        t: &TableRef,
        max: usize,
    ) -> Result<Value, ConnectorError> {
        let max = max.clamp(1, 100).to_string();
        self.json(
            auth,
            key,
            &["projects", &t.project, "datasets", &t.dataset, "tables", &t.table, "data"],
            &[("maxResults", &max)],
            &format!("table {t}'s rows"),
            "the BigQuery Data Viewer role (bigquery.tables.getData)",
        )
        .await
    }

    /// One page of `tabledata.list`: `max` rows at most (BigQuery also cuts a page at 10 MB),
    /// from `page_token` (the previous page's `pageToken`) when given.
    pub async fn rows_page(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        t: &TableRef,
        max: usize,
        page_token: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        let max = max.clamp(1, 100_000).to_string();
        let mut query = vec![("maxResults", max.as_str())];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        self.json(
            auth,
            key,
            &["projects", &t.project, "datasets", &t.dataset, "tables", &t.table, "data"],
            &query,
            &format!("table {t}'s rows"),
            "the BigQuery Data Viewer role (bigquery.tables.getData)",
        )
        .await
    }

    /// `jobs.query` of `SELECT * ... LIMIT n`, billed to `billing`, capped by maximumBytesBilled.
    pub async fn sample_query(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        billing: &str,
        location: Option<&str>,
        t: &TableRef,
        limit: usize,
    ) -> Result<Value, ConnectorError> {
        let sql = format!("SELECT * FROM `{}`.`{}`.`{}` LIMIT {}", t.project, t.dataset, t.table, limit.clamp(1, 100));
        let what = format!("table {t}'s sample query");
        self.query(auth, key, billing, location, &sql, MAX_BYTES_BILLED, &what).await
    }

    /// `jobs.query` of `query` billed to `billing`, capped by `max_bytes_billed`, waited for
    /// (`jobs.getQueryResults` until the job is complete); answers the first page of rows
    /// (validation queries answer one row, or at most `max_errors`).
    #[allow(clippy::too_many_arguments, reason = "one call's whole description")]
    pub async fn query(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        billing: &str,
        location: Option<&str>,
        query: &str,
        max_bytes_billed: u64,
        what: &str,
    ) -> Result<Value, ConnectorError> {
        let mut body = json!({
            "query": query,
            "useLegacySql": false,
            "maximumBytesBilled": max_bytes_billed.to_string(),
            "timeoutMs": 10000,
        });
        if let (Some(l), Some(o)) = (location, body.as_object_mut()) {
            o.insert("location".into(), json!(l));
        }
        let answer = self.call(auth, key, Method::POST, &["projects", billing, "queries"], &[], Some(body)).await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, what, &query_role(&answer.json(), billing)));
        }
        let mut body = answer.json();
        // A long job answers `jobComplete: false`: its results are waited for, 10 s a call,
        // for as long as the validation may run (its caller bounds it).
        while body.at("/jobComplete").as_bool() == Some(false) {
            let job = body.at("/jobReference/jobId").as_str().unwrap_or_default().to_owned();
            if job.is_empty() {
                return Err(ConnectorError::new(
                    gateway_connector::ErrorKind::Unknown,
                    format!("BigQuery answered {what} without a job to wait for"),
                ));
            }
            let job_location = body.at("/jobReference/location").as_str().map(str::to_owned);
            let mut q = vec![("timeoutMs", "10000")];
            if let Some(l) = job_location.as_deref().or(location) {
                q.push(("location", l));
            }
            let answer = self.call(auth, key, Method::GET, &["projects", billing, "queries", &job], &q, None).await?;
            if !answer.ok() {
                return Err(failure(&self.api, &answer, what, &query_role(&answer.json(), billing)));
            }
            body = answer.json();
        }
        match query_errors(&body, what) {
            Some(e) => Err(e),
            None => Ok(body),
        }
    }

    /// `tables.testIamPermissions`: which of `permissions` the key has on a table.
    pub async fn permissions(
        &self,
        auth: &GoogleAuth,
        key: &ServiceAccountKey<'_>,
        t: &TableRef,
        permissions: &[&str],
    ) -> Result<Vec<String>, ConnectorError> {
        let resource = format!("{}:testIamPermissions", t.table);
        let body = json!({"permissions": permissions});
        let answer = self
            .call(
                auth,
                key,
                Method::POST,
                &["projects", &t.project, "datasets", &t.dataset, "tables", &resource],
                &[],
                Some(body),
            )
            .await?;
        if !answer.ok() {
            return Err(failure(&self.api, &answer, &format!("table {t}'s permissions"), "bigquery.tables.get"));
        }
        Ok(answer
            .json()
            .at("/permissions")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect())
    }
}

/// The grant a refused query lacks, from the permission BigQuery's message names.
fn query_role(body: &Value, billing: &str) -> String {
    let message = body.at("/error/message").as_str().unwrap_or_default();
    if message.contains("bigquery.jobs.create") {
        format!("the BigQuery Job User role (roles/bigquery.jobUser, bigquery.jobs.create) on project {billing}")
    } else if message.contains("bigquery.tables.getData") {
        "the BigQuery Data Viewer role (roles/bigquery.dataViewer, bigquery.tables.getData) on the table or its dataset"
            .to_owned()
    } else {
        format!(
            "the BigQuery Job User role (roles/bigquery.jobUser) on project {billing} and BigQuery Data Viewer (roles/bigquery.dataViewer) on the table"
        )
    }
}
