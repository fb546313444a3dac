//! The BigQuery connector: the key exchanged (Google's token endpoint, pinned, the read scope
//! `cloud-platform.read-only`), then dry-run queries (the key may run jobs, and read each
//! source table); tables, views and external tables as sources (schema -> columns,
//! `tabledata.list` or, for views and external tables, a capped `LIMIT` query for rows),
//! datasets as destinations (existence and, for an existing table,
//! `tables.testIamPermissions`; nothing is created).

use gateway_connector::api::JsonAt;
use gateway_connector::api::text;
use gateway_connector::google::{GoogleAuth, ServiceAccountKey};
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};

use super::client::Client;
use super::config::{self, SCOPE};
use super::{rows, validate};

/// What writing recommendations into an existing table needs.
const WRITE: &str = "bigquery.tables.updateData";
/// What reading a table's rows needs.
const READ: &str = "bigquery.tables.getData";
/// Tables a connection's test checks, one dry run (or permission test) each.
const MAX_TABLE_CHECKS: usize = 10;

#[derive(Debug)]
pub struct BigQueryConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    client: Client,
    auth: GoogleAuth,
}

impl BigQueryConnector {
    pub fn new(outbound: OutboundClient) -> BigQueryConnector {
        BigQueryConnector {
            spec: config::credential_spec(),
            tables: config::table_spec(),
            client: Client::new(&outbound),
            auth: GoogleAuth::new(outbound),
        }
    }
}

fn wrong_spec(p: Problem) -> ConnectorError {
    ConnectorError::new(ErrorKind::WrongSpecification, p.message)
}

#[async_trait::async_trait]
impl Connector for BigQueryConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Bigquery
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        gateway_connector::google::validate_key_credentials(&self.spec, credentials)
    }

    /// The table's reference is checked as far as it can be without the connection (its
    /// params and name); the project and dataset may come from the connection.
    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        config::table_ref(table, Some("placeholder-project"), Some("placeholder_dataset")).map(|_| ())
    }

    /// The key exchanged, then what the connection's tables need: a dry-run query billed to
    /// the project (the key may run jobs there), a dry-run read of each source table (it may
    /// read it), each existing destination's `bigquery.tables.updateData`. `datasets.list` is
    /// no check: it needs no permission and answers an empty list to a key with no role.
    async fn test_credentials(
        &self,
        credentials: &Credentials,
        tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let c = credentials.expose();
        let key = ServiceAccountKey::from_credentials(c)?;
        let project = text(c, "project_id").unwrap_or_default();
        let location = text(c, "location");
        let mut check = CredentialCheck::default();
        // Always a fresh exchange: checking the key is the point.
        match self.auth.exchange(&key, SCOPE).await {
            Ok(_) => check
                .steps
                .push(Step::passed("token_exchange", "the service-account key was exchanged for an access token")),
            Err(e) => {
                check.steps.push(Step::failed("token_exchange", e.kind, e.message));
                check.steps.push(Step::skipped("run_query_jobs", "not tried: the key was refused"));
                return Ok(check);
            }
        }
        let jobs = self
            .client
            .dry_run(&self.auth, &key, project, location, "SELECT 1", &format!("project {project}'s query jobs"))
            .await;
        if !check.run("run_query_jobs", jobs, |_| {
            format!("the key may run query jobs billed to project {project} (a dry-run query: bigquery.jobs.create)")
        }) {
            return Ok(check);
        }
        let mut tested = 0;
        for table in tables {
            let Ok(t) = config::table_ref(table, Some(project), text(c, "dataset")) else { continue };
            if tested == MAX_TABLE_CHECKS {
                check.warnings.push(format!(
                    "only the first {MAX_TABLE_CHECKS} tables were checked; each table's own test checks it"
                ));
                break;
            }
            tested += 1;
            let name = format!("read_table:{}", table.name);
            if table.resource.is_destination() {
                match self.client.table(&self.auth, &key, &t).await {
                    Ok(Some(_)) => {
                        let granted = self.client.permissions(&self.auth, &key, &t, &[WRITE]).await;
                        let step = format!("write_table:{}", table.name);
                        match granted {
                            Ok(g) if g.iter().any(|p| p == WRITE) => check.steps.push(Step::passed(
                                step,
                                format!("the key may write table {t} ({WRITE})"),
                            )),
                            Ok(_) => check.steps.push(Step::failed(
                                step,
                                ErrorKind::Forbidden,
                                format!("the key may not write table {t}: grant {WRITE} (BigQuery Data Editor, roles/bigquery.dataEditor) on the table or its dataset"),
                            )),
                            Err(e) => check.steps.push(Step::failed(step, e.kind, e.message)),
                        }
                    }
                    Ok(None) => check.steps.push(Step::skipped(
                        format!("write_table:{}", table.name),
                        format!("table {t} does not exist yet: whether the key may create it (bigquery.tables.create on dataset {}) cannot be checked without creating one", t.dataset),
                    )),
                    Err(e) if e.kind == ErrorKind::ResourceNotFound => check.warnings.push(format!(
                        "table '{}': {} (its own test reports it)",
                        table.name, e.message
                    )),
                    Err(e) => check.steps.push(Step::failed(format!("write_table:{}", table.name), e.kind, e.message)),
                }
                continue;
            }
            let query = format!("SELECT * FROM `{}`.`{}`.`{}`", t.project, t.dataset, t.table);
            match self.client.dry_run(&self.auth, &key, project, location, &query, &format!("table {t}")).await {
                Ok(answer) => check.steps.push(Step::passed(
                    name,
                    format!(
                        "the key may read table {t} (a dry-run query: {} bytes)",
                        answer.at("/totalBytesProcessed").as_str().unwrap_or("0")
                    ),
                )),
                // The table's own problem, not the key's: its test says so.
                Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                    check.warnings.push(format!("table '{}': {} (its own test reports it)", table.name, e.message));
                }
                Err(e) if matches!(e.kind, ErrorKind::Forbidden | ErrorKind::WrongCredentials | ErrorKind::RateLimited) => {
                    check.steps.push(Step::failed(name, e.kind, e.message));
                }
                // A query BigQuery refuses to plan (a table requiring a partition filter, a
                // decorator): the read permission is asked directly.
                Err(_) => match self.client.permissions(&self.auth, &key, &t, &[READ]).await {
                    Ok(g) if g.iter().any(|p| p == READ) => {
                        check.steps.push(Step::passed(name, format!("the key may read table {t} ({READ})")));
                    }
                    Ok(_) => check.steps.push(Step::failed(
                        name,
                        ErrorKind::Forbidden,
                        format!("the key may not read table {t}: grant {READ} (BigQuery Data Viewer, roles/bigquery.dataViewer) on the table or its dataset"),
                    )),
                    Err(e) => check.steps.push(Step::failed(name, e.kind, e.message)),
                },
            }
        }
        if tables.is_empty() {
            check.warnings.push(
                "the connection has no tables yet: each table's read (or write) is checked when it is added and when the connection is tested again".into(),
            );
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let c = credentials
            .map(Credentials::expose)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let key = ServiceAccountKey::from_credentials(c)?;
        let billing = text(c, "project_id").unwrap_or_default();
        let t = config::table_ref(table, Some(billing), text(c, "dataset")).map_err(wrong_spec)?;
        let mut detected = JsonObject::new();
        for (k, v) in [("project", &t.project), ("dataset", &t.dataset), ("table", &t.table)] {
            detected.insert(k.into(), v.clone().into());
        }
        // The dataset first: a missing one is named as such.
        self.client.dataset(&self.auth, &key, &t).await?;
        let found = self.client.table(&self.auth, &key, &t).await?;
        if table.resource.is_destination() {
            let warnings = match found {
                Some(_) => {
                    let granted = self.client.permissions(&self.auth, &key, &t, &[WRITE]).await?;
                    if !granted.iter().any(|p| p == WRITE) {
                        return Err(ConnectorError::new(
                            ErrorKind::Forbidden,
                            format!(
                                "the service account may not write table {t}: it lacks {WRITE} (BigQuery Data Editor)"
                            ),
                        ));
                    }
                    vec![format!("table {t} exists and the key may write it ({WRITE})")]
                }
                None => vec![format!(
                    "table {t} does not exist yet: the platform creates it; whether the key may create tables in dataset {} (bigquery.tables.create) cannot be checked without creating one",
                    t.dataset
                )],
            };
            return Ok(Inspection { detected, writable: None, warnings, ..Inspection::default() });
        }
        let Some(meta) = found else {
            return Err(ConnectorError::new(
                ErrorKind::ResourceNotFound,
                format!("BigQuery has no table {t} (dataset {} exists)", t.dataset),
            ));
        };
        let mut warnings = Vec::new();
        let kind = meta.at("/type").as_str().unwrap_or("TABLE");
        let (schema_fields, data) = if matches!(kind, "VIEW" | "MATERIALIZED_VIEW" | "EXTERNAL") {
            // Views and external tables (files in Cloud Storage, Sheets, BigLake) have no table
            // data `tabledata.list` serves: sampled by a query, capped in bytes billed.
            let body =
                self.client.sample_query(&self.auth, &key, billing, text(c, "location"), &t, sample_rows).await?;
            let what = if kind == "EXTERNAL" { "an external table" } else { "a view" };
            warnings.push(format!(
                "{t} is {what}: sampled with a LIMIT {} query (at most {} bytes billed)",
                sample_rows,
                config::MAX_BYTES_BILLED
            ));
            (body.at("/schema/fields").clone(), body.at("/rows").clone())
        } else {
            (
                meta.at("/schema/fields").clone(),
                self.client.rows(&self.auth, &key, &t, sample_rows).await?.at("/rows").clone(),
            )
        };
        let (columns, repeated) = rows::columns(&schema_fields);
        if !repeated.is_empty() {
            warnings.push(format!("REPEATED columns (arrays, shown as JSON): {}", repeated.join(", ")));
        }
        let rows = rows::decode(&data, &schema_fields).into_iter().take(sample_rows).collect();
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings, files: None, modified: None })
    }

    fn whole_read(&self) -> gateway_connector::WholeRead {
        gateway_connector::WholeRead::InPlace
    }

    fn reads_pages(&self) -> bool {
        true
    }

    /// A table's rows page by page as `tabledata.list` serves them (10,000 a page, each
    /// page's `pageToken` sent back as is), paced at 600 requests a minute, well inside
    /// BigQuery's API request quotas; rows as the preview shows them (RECORD fields as dotted
    /// paths). Views and external tables, which `tabledata.list` does not serve, are refused.
    /// <https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/list>
    async fn read_pages(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let c = credentials
            .map(Credentials::expose)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let key = ServiceAccountKey::from_credentials(c)?;
        let billing = text(c, "project_id").unwrap_or_default();
        let t = config::table_ref(table, Some(billing), text(c, "dataset")).map_err(wrong_spec)?;
        let Some(meta) = self.client.table(&self.auth, &key, &t).await? else {
            return Err(ConnectorError::new(ErrorKind::ResourceNotFound, format!("BigQuery has no table {t}")));
        };
        let kind = meta.at("/type").as_str().unwrap_or("TABLE");
        if matches!(kind, "VIEW" | "MATERIALIZED_VIEW" | "EXTERNAL") {
            return Err(ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!(
                    "{t} is a {kind} table: tabledata.list does not serve its rows, and reading it by a query is not built"
                ),
            ));
        }
        let fields = meta.at("/schema/fields").clone();
        let mut pacer = gateway_connector::paging::Pacer::per_minute(600);
        let (mut read, mut token) = (0u64, None::<String>);
        loop {
            // 10,000 rows a page, fewer for the last a max_rows leaves.
            let ask = usize::try_from(max_rows.saturating_sub(read)).unwrap_or(usize::MAX).clamp(1, 10_000);
            let page = pacer.call(|| self.client.rows_page(&self.auth, &key, &t, ask, token.as_deref())).await?;
            let rows = rows::decode(page.at("/rows"), &fields);
            token = page.at("/pageToken").as_str().filter(|s| !s.is_empty()).map(str::to_owned);
            if gateway_connector::paging::deliver(rows, token.is_some(), &mut read, max_rows, sink)? {
                return Ok(true);
            }
            if token.is_none() {
                return Ok(false);
            }
        }
    }

    /// The rules as GoogleSQL run in the customer's project (billed to the connection's
    /// project): a dry run first, refused past the plan's `max_bytes` (the operator's
    /// `GATEWAY_VALIDATION_BILLED_MB`); then the counting query and the samples query, each
    /// capped by `maximumBytesBilled` at the same figure.
    async fn validate_in_place(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        plan: &gateway_domain::ValidationPlan,
    ) -> Result<gateway_domain::ValidationReport, ConnectorError> {
        let c = credentials
            .map(Credentials::expose)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let key = ServiceAccountKey::from_credentials(c)?;
        let billing = text(c, "project_id").unwrap_or_default();
        let location = text(c, "location");
        let t = config::table_ref(table, Some(billing), text(c, "dataset")).map_err(wrong_spec)?;
        let meta =
            self.client.table(&self.auth, &key, &t).await?.ok_or_else(|| {
                ConnectorError::new(ErrorKind::ResourceNotFound, format!("BigQuery has no table {t}"))
            })?;
        let counts = validate::counts_sql(&t, plan);
        let what = format!("table {t}'s validation");
        let dry = self.client.dry_run(&self.auth, &key, billing, location, &counts, &what).await?;
        let bytes: u64 = dry.at("/totalBytesProcessed").as_str().and_then(|b| b.parse().ok()).unwrap_or(0);
        if bytes > plan.max_bytes {
            return Err(ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!(
                    "validating {t} would process {bytes} bytes, more than the {} a validation may bill (GATEWAY_VALIDATION_BILLED_MB, the operator's; a LIMIT or max_rows does not lower what BigQuery bills: the columns read are)",
                    plan.max_bytes
                ),
            ));
        }
        let answer = self.client.query(&self.auth, &key, billing, location, &counts, plan.max_bytes, &what).await?;
        let samples = if plan.max_errors > 0 {
            let sql = validate::samples_sql(&t, plan);
            self.client.query(&self.auth, &key, billing, location, &sql, plan.max_bytes, &what).await?
        } else {
            serde_json::Value::Null
        };
        validate::report(&t, plan, meta.at("/schema/fields"), &answer, &samples)
    }
}
