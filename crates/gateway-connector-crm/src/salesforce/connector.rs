//! The Salesforce connector: the token step, then the API step (limits, else the sObject
//! list), reported apart; sObjects as sources (describe for columns, `LIMIT 10` for rows).

use gateway_connector::api::JsonAt;
use gateway_connector::{
    Column, ColumnType, ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step, Typed,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};
use serde_json::Value;

use super::client::{QueryPage, Session, login};
use super::config::{self, SalesforceCredentials, SalesforceTable};

/// The most fields a sample query selects.
const MAX_FIELDS: usize = 100;

#[derive(Debug)]
pub struct SalesforceConnector {
    outbound: OutboundClient,
}

impl SalesforceConnector {
    pub fn new(outbound: OutboundClient) -> Typed<SalesforceConnector> {
        Typed::new(SalesforceConnector { outbound })
    }

    async fn session(&self, c: &SalesforceCredentials) -> Result<Session, ConnectorError> {
        let domain = config::my_domain(&c.domain)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'domain' is not a My Domain"))?;
        login(&self.outbound, &domain, &c.client_id, c.client_secret.expose()).await
    }

    fn object(params: &SalesforceTable, table: &Table) -> String {
        params.object.clone().unwrap_or_else(|| table.name.as_str().to_owned())
    }

    /// The object's API name, checked.
    fn checked_object(params: &SalesforceTable, table: &Table) -> Result<String, ConnectorError> {
        let object = Self::object(params, table);
        if !config::object_ok(&object) {
            return Err(ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("'{object}' is not an sObject API name"),
            ));
        }
        Ok(object)
    }

    /// The fields a query selects, with their types: the describe's, base64 left out, at most
    /// [`MAX_FIELDS`] (warned past it).
    async fn fields(session: &Session, object: &str) -> Result<(Vec<(String, String)>, Vec<String>), ConnectorError> {
        let describe = session.describe(object).await?;
        let mut fields: Vec<(String, String)> = describe
            .at("/fields")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f["name"].as_str()?.to_owned(), f["type"].as_str().unwrap_or("string").to_owned())))
            .filter(|(name, ty)| config::object_ok(name) && ty != "base64")
            .collect();
        let mut warnings = Vec::new();
        if fields.len() > MAX_FIELDS {
            warnings.push(format!("{object} has {} fields: the first {MAX_FIELDS} are read", fields.len()));
            fields.truncate(MAX_FIELDS);
        }
        Ok((fields, warnings))
    }
}

/// A record as a row: its `attributes` (type and URL) left out.
fn row(record: Value) -> Option<JsonObject> {
    match record {
        Value::Object(mut o) => {
            o.remove("attributes");
            Some(o)
        }
        _ => None,
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
impl Provider for SalesforceConnector {
    type Credentials = SalesforceCredentials;
    type Params = SalesforceTable;
    const KIND: ConnectionKind = ConnectionKind::Salesforce;
    const RESOURCES: &'static [Resource] = config::RESOURCES;
    const VERSION: Option<gateway_connector::ApiVersion> = Some(config::VERSION);
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

    /// The domain is stored as its My Domain host, whichever form it was given in.
    fn normalize(&self, mut c: JsonObject) -> Result<JsonObject, Problem> {
        if let Some(host) = c.get("domain").and_then(|v| v.as_str()).and_then(config::my_domain) {
            c.insert("domain".into(), host.into());
        }
        Ok(c)
    }

    fn check_params(&self, params: &SalesforceTable, table: &Table) -> Result<(), Problem> {
        let object = Self::object(params, table);
        if !config::object_ok(&object) {
            return Err(Problem::wrong_field(
                "connection_table_params.object",
                format!("'{object}' is not an sObject API name (Contact, Lead, Account, Thing__c)"),
            ));
        }
        Ok(())
    }

    async fn test(&self, c: &SalesforceCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        let session = match self.session(c).await {
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

    async fn inspect(
        &self,
        c: &SalesforceCredentials,
        params: &SalesforceTable,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let object = Self::checked_object(params, table)?;
        let session = self.session(c).await?;
        let (fields, warnings) = Self::fields(&session, &object).await?;
        let selected: Vec<&(String, String)> = fields.iter().collect();
        let columns: Vec<Column> =
            selected.iter().map(|(n, t)| Column { name: n.clone(), ty: column_type(t) }).collect();
        let names: Vec<&str> = selected.iter().map(|(n, _)| n.as_str()).collect();
        let rows = if names.is_empty() {
            Vec::new()
        } else {
            let soql = format!("SELECT {} FROM {object} LIMIT {}", names.join(", "), sample_rows.clamp(1, 200));
            let records = session.query(&soql, &object).await?;
            records.into_iter().filter_map(row).collect::<Vec<JsonObject>>()
        };
        let mut detected = JsonObject::new();
        detected.insert("object".into(), object.into());
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings, files: None, modified: None })
    }

    /// The object's described fields queried whole, page by page as Salesforce serves them
    /// (`nextRecordsUrl`), each request one of the org's daily API requests; stopped at
    /// `max_rows`.
    async fn read_pages(
        &self,
        c: &SalesforceCredentials,
        params: &SalesforceTable,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let object = Self::checked_object(params, table)?;
        let session = self.session(c).await?;
        let (fields, _) = Self::fields(&session, &object).await?;
        if fields.is_empty() {
            return Ok(false);
        }
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let soql = format!("SELECT {} FROM {object}", names.join(", "));
        let mut page = QueryPage::First(&soql);
        let mut read = 0u64;
        loop {
            let (records, next) = session.query_page(&page, &object).await?;
            let rows: Vec<JsonObject> = records.into_iter().filter_map(row).collect();
            if gateway_connector::paging::deliver(rows, next.is_some(), &mut read, max_rows, sink)? {
                return Ok(true);
            }
            match next {
                Some(locator) => page = QueryPage::Next(locator),
                None => return Ok(false),
            }
        }
    }
}
