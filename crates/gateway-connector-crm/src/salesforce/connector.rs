//! The Salesforce connector: the token step, then the API step (limits, else the sObject
//! list), reported apart; sObjects as sources (describe for columns, `LIMIT 10` for rows).

use gateway_connector::api::JsonAt;
use gateway_connector::api::text;
use gateway_connector::{
    Column, ColumnType, Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use serde_json::Value;

use super::client::{Session, login};
use super::config;

/// The most fields a sample query selects.
const MAX_FIELDS: usize = 100;

#[derive(Debug)]
pub struct SalesforceConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl SalesforceConnector {
    pub fn new(outbound: OutboundClient) -> SalesforceConnector {
        SalesforceConnector { spec: config::credential_spec(), tables: config::table_spec(), outbound }
    }

    async fn session(&self, c: &JsonObject) -> Result<Session, ConnectorError> {
        let missing = |f: &str| ConnectorError::new(ErrorKind::WrongCredentials, format!("'{f}' is missing"));
        let domain = text(c, "domain").and_then(config::my_domain).ok_or_else(|| missing("domain"))?;
        login(
            &self.outbound,
            &domain,
            text(c, "client_id").ok_or_else(|| missing("client_id"))?,
            text(c, "client_secret").ok_or_else(|| missing("client_secret"))?,
        )
        .await
    }

    fn object(table: &Table) -> String {
        table.connection_table_params.get("object").and_then(Value::as_str).unwrap_or(table.name.as_str()).to_owned()
    }
}

/// A Salesforce field type as ours.
fn column_type(sf: &str) -> ColumnType {
    match sf {
        "int" | "long" => ColumnType::Integer,
        "double" | "currency" | "percent" => ColumnType::Float,
        "boolean" => ColumnType::Boolean,
        "date" | "datetime" | "time" => ColumnType::Timestamp,
        "address" | "location" | "complexvalue" => ColumnType::Json,
        _ => ColumnType::String,
    }
}

#[async_trait::async_trait]
impl Connector for SalesforceConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Salesforce
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    /// The domain is stored as its My Domain host, whichever form it was given in.
    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        let mut c = self.spec.validate(credentials)?;
        if let Some(host) = text(&c, "domain").and_then(config::my_domain) {
            c.insert("domain".into(), host.into());
        }
        Ok(c)
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        let object = Self::object(table);
        if !config::object_ok(&object) {
            return Err(Problem::wrong_field(
                "connection_table_params.object",
                format!("'{object}' is not an sObject API name (Contact, Lead, Account, Thing__c)"),
            ));
        }
        Ok(())
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        let session = match self.session(credentials.expose()).await {
            Ok(s) => {
                check.steps.push(Step::passed(
                    "token",
                    format!("the client credentials were exchanged for a token for {}", s.instance()),
                ));
                s
            }
            Err(e) => {
                check.steps.push(Step::failed("token", e.kind, e.message));
                check.steps.push(Step::skipped("api_access", "not tried: no token"));
                return Ok(check);
            }
        };
        match session.limits().await {
            Ok(limits) => {
                let daily = &limits.at("/DailyApiRequests");
                check.steps.push(Step::passed(
                    "api_access",
                    format!(
                        "the REST API answered (GET limits: {} of {} daily API requests left)",
                        daily["Remaining"].as_i64().map_or_else(|| "?".into(), |v| v.to_string()),
                        daily["Max"].as_i64().map_or_else(|| "?".into(), |v| v.to_string())
                    ),
                ));
            }
            // Reading limits needs "View Setup and Configuration": the sObject list needs less.
            Err(e) if e.kind == ErrorKind::Forbidden || e.kind == ErrorKind::ResourceNotFound => {
                match session.sobjects().await {
                    Ok(list) => check.steps.push(Step::passed(
                        "api_access",
                        format!(
                            "the REST API answered (GET sobjects: {} objects visible)",
                            list.at("/sobjects").as_array().map_or(0, Vec::len)
                        ),
                    )),
                    Err(e) => check.steps.push(Step::failed("api_access", e.kind, e.message)),
                }
            }
            Err(e) => check.steps.push(Step::failed("api_access", e.kind, e.message)),
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
        let object = Self::object(table);
        if !config::object_ok(&object) {
            return Err(ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("'{object}' is not an sObject API name"),
            ));
        }
        let session = self.session(c).await?;
        let describe = session.describe(&object).await?;
        let fields: Vec<(String, String)> = describe
            .at("/fields")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f["name"].as_str()?.to_owned(), f["type"].as_str().unwrap_or("string").to_owned())))
            .filter(|(name, ty)| config::object_ok(name) && ty != "base64")
            .collect();
        let mut warnings = Vec::new();
        if fields.len() > MAX_FIELDS {
            warnings.push(format!("{object} has {} fields: the sample shows the first {MAX_FIELDS}", fields.len()));
        }
        let selected: Vec<&(String, String)> = fields.iter().take(MAX_FIELDS).collect();
        let columns: Vec<Column> =
            selected.iter().map(|(n, t)| Column { name: n.clone(), ty: column_type(t) }).collect();
        let names: Vec<&str> = selected.iter().map(|(n, _)| n.as_str()).collect();
        let rows = if names.is_empty() {
            Vec::new()
        } else {
            let soql = format!("SELECT {} FROM {object} LIMIT {}", names.join(", "), sample_rows.clamp(1, 200));
            let records = session.query(&soql, &object).await?;
            records
                .into_iter()
                .filter_map(|r| match r {
                    Value::Object(mut o) => {
                        o.remove("attributes");
                        Some(o)
                    }
                    _ => None,
                })
                .collect::<Vec<JsonObject>>()
        };
        let mut detected = JsonObject::new();
        detected.insert("object".into(), object.into());
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
    }
}
