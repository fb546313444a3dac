//! The BigQuery connector: the key exchanged (Google's token endpoint, pinned), then
//! `datasets.list`; tables and views as sources (schema -> columns, `tabledata.list` or a
//! capped `LIMIT` query for rows), datasets as destinations (existence and, for an existing
//! table, `tables.testIamPermissions`; nothing is created).

use gateway_connector::api::JsonAt;
use gateway_connector::api::text;
use gateway_connector::google::{GoogleAuth, ServiceAccountKey};
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};

use super::client::Client;
use super::config::{self, SCOPE};
use super::rows;

/// What writing recommendations into an existing table needs.
const WRITE: &str = "bigquery.tables.updateData";

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

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let c = credentials.expose();
        let key = ServiceAccountKey::from_credentials(c)?;
        let project = text(c, "project_id").unwrap_or_default();
        let mut check = CredentialCheck::default();
        // Always a fresh exchange: checking the key is the point.
        match self.auth.exchange(&key, SCOPE).await {
            Ok(_) => check
                .steps
                .push(Step::passed("token_exchange", "the service-account key was exchanged for an access token")),
            Err(e) => {
                check.steps.push(Step::failed("token_exchange", e.kind, e.message));
                check.steps.push(Step::skipped("list_datasets", "not tried: the key was refused"));
                return Ok(check);
            }
        }
        match self.client.datasets(&self.auth, &key, project).await {
            Ok(list) => check.steps.push(Step::passed(
                "list_datasets",
                format!(
                    "listed project {project}'s datasets (datasets.list, maxResults=1: {} found)",
                    list.at("/datasets").as_array().map_or(0, Vec::len)
                ),
            )),
            Err(e) => check.steps.push(Step::failed("list_datasets", e.kind, e.message)),
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
        let (schema_fields, data) = if meta.at("/type") == "VIEW" || meta.at("/type") == "MATERIALIZED_VIEW" {
            // A view has no table data: sampled by a query, capped in bytes billed.
            let body =
                self.client.sample_query(&self.auth, &key, billing, text(c, "location"), &t, sample_rows).await?;
            warnings.push(format!(
                "{t} is a view: sampled with a LIMIT {} query (at most {} bytes billed)",
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
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
    }
}
