//! The Klaviyo connector. A private key's scopes cannot be introspected and no read works for
//! every key, so the test reads what the connection's tables need: lists (`lists:read`) and a
//! list's profiles (`profiles:read`), segments, catalog items (`catalogs:read`); a key missing
//! a scope is told which to add. Writes of profile properties (`profiles:write`) cannot be
//! checked read-only: skipped, the connection `unverified`.

use gateway_connector::api::JsonAt;
use gateway_connector::{
    ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step, Typed,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};
use serde_json::Value;

use super::client::{Client, Group, Source};
use super::config::{self, KlaviyoCredentials, KlaviyoTable};

#[derive(Debug)]
pub struct KlaviyoConnector {
    outbound: OutboundClient,
}

impl KlaviyoConnector {
    pub fn new(outbound: OutboundClient) -> Typed<KlaviyoConnector> {
        Typed::new(KlaviyoConnector { outbound })
    }

    fn client(&self, c: &KlaviyoCredentials) -> Client {
        Client::new(&self.outbound, c.private_api_key.expose())
    }
}

/// Where a user table's profiles come from: its segment, its list, or the list named as it.
fn group<'a>(params: &'a KlaviyoTable, table: &'a Table) -> Group<'a> {
    match (&params.segment_id, &params.list_id) {
        (Some(s), _) => Group::Segment(s),
        (None, Some(l)) => Group::List(l),
        (None, None) => Group::List(table.name.as_str()),
    }
}

/// A JSON:API resource as a row: its id and its attributes.
fn row(resource: &Value) -> JsonObject {
    let mut row = JsonObject::new();
    row.insert("id".into(), resource.at("/id").clone());
    if let Value::Object(attributes) = resource.at("/attributes") {
        row.extend(attributes.clone());
    }
    row
}

/// The most list or segment tables a test reads a profile of, each.
const TESTED_GROUPS: usize = gateway_connector::MAX_TESTED_TABLES;

/// One profile of each table's list or segment (the first [`TESTED_GROUPS`]): every table's
/// group exists and the key reads it. Answers which were read, or the first failure, naming
/// its table.
async fn each_group_read(client: &Client, tables: &[&Table]) -> Result<String, ConnectorError> {
    let mut read = Vec::new();
    for table in tables.iter().take(TESTED_GROUPS) {
        let p = params_of(table);
        client.profiles(group(&p, table), 1).await.map_err(|mut e| {
            e.message = format!("table '{}': {}", table.name, e.message);
            e
        })?;
        read.push(format!("'{}'", table.name));
    }
    let more = tables.len().saturating_sub(TESTED_GROUPS);
    let more = if more > 0 { format!(" (and {more} more tables, not read)") } else { String::new() };
    Ok(format!("table{} {}{more}", if read.len() == 1 { "" } else { "s" }, read.join(", ")))
}

fn params_of(table: &Table) -> KlaviyoTable {
    serde_json::from_value(Value::Object(table.connection_table_params.clone())).unwrap_or_default()
}

#[async_trait::async_trait]
impl Provider for KlaviyoConnector {
    type Credentials = KlaviyoCredentials;
    type Params = KlaviyoTable;
    const KIND: ConnectionKind = ConnectionKind::Klaviyo;
    const RESOURCES: &'static [Resource] = config::RESOURCES;
    const VERSION: Option<gateway_connector::ApiVersion> = Some(config::VERSION);
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

    fn check_params(&self, params: &KlaviyoTable, table: &Table) -> Result<(), Problem> {
        if matches!(table.resource, Resource::User | Resource::UserId) {
            let (field, id) = match group(params, table) {
                Group::List(id) => ("connection_table_params.list_id", id),
                Group::Segment(id) => ("connection_table_params.segment_id", id),
            };
            if !config::id_ok(id) {
                return Err(Problem::wrong_field(
                    field,
                    format!("'{id}' is not a Klaviyo list or segment id (letters and digits, e.g. Y6nRLr)"),
                ));
            }
        }
        Ok(())
    }

    async fn test(&self, c: &KlaviyoCredentials, tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let client = self.client(c);
        let mut check = CredentialCheck::default();
        let users: Vec<&Table> =
            tables.iter().filter(|t| matches!(t.resource, Resource::User | Resource::UserId)).collect();
        let lists: Vec<&Table> =
            users.iter().copied().filter(|t| matches!(group(&params_of(t), t), Group::List(_))).collect();
        let segments: Vec<&Table> =
            users.iter().copied().filter(|t| matches!(group(&params_of(t), t), Group::Segment(_))).collect();
        let items = tables.iter().any(|t| t.resource == Resource::Item);
        let writes = tables.iter().any(|t| t.resource == Resource::UserToItemsReco);
        // The key itself: lists are the cheapest read. A key without lists:read is still known
        // to Klaviyo (403, not 401): authenticated, and a list table would need the scope.
        let first_list = client.first_list().await;
        match &first_list {
            Ok(_) => check.steps.push(Step::passed("authenticate", "Klaviyo knows the key (GET /api/lists)")),
            Err(e) if e.kind == ErrorKind::Forbidden => check.steps.push(Step::passed(
                "authenticate",
                "Klaviyo knows the key (it answered permission denied, not an unknown key)",
            )),
            Err(e) => {
                check.steps.push(Step::failed("authenticate", e.kind, e.message.clone()));
                return Ok(check);
            }
        }
        if !lists.is_empty() {
            let read = check.run("read_lists", first_list, |_| "the key reads lists (lists:read)".to_owned());
            if read {
                let profiles = each_group_read(&client, &lists).await;
                check.run("read_list_profiles", profiles, |n| {
                    format!("the key reads the profiles of {n} (profiles:read)")
                });
            }
        }
        if !segments.is_empty() {
            let read = check.run("read_segments", client.first_segment().await, |_| {
                "the key reads segments (segments:read)".to_owned()
            });
            if read {
                let profiles = each_group_read(&client, &segments).await;
                check.run("read_segment_profiles", profiles, |n| {
                    format!("the key reads the profiles of {n} (profiles:read)")
                });
            }
        }
        if items {
            check.run("read_catalog_items", client.catalog_items(1).await, |_| {
                "the key reads the catalog's items (catalogs:read)".to_owned()
            });
        }
        if writes {
            check.steps.push(Step::skipped(
                "write_profiles",
                "Klaviyo offers no read-only check that the key may update profiles (profiles:write)",
            ));
            check.warnings.push(
                "user_to_items_reco tables need a key with profiles:write: it is proven when the platform first writes"
                    .into(),
            );
        }
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &KlaviyoCredentials,
        params: &KlaviyoTable,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = self.client(c);
        let mut detected = JsonObject::new();
        match table.resource {
            Resource::UserToItemsReco => {
                let property = params.property.clone().unwrap_or_else(|| table.name.as_str().to_owned());
                detected.insert("property".into(), property.clone().into());
                Ok(Inspection {
                    detected,
                    warnings: vec![format!(
                        "profile property '{property}': Klaviyo lists no profile properties and offers no read-only check that the key may update profiles (profiles:write)"
                    )],
                    ..Inspection::default()
                })
            }
            Resource::Item => {
                let items = client.catalog_items(sample_rows).await?;
                let (columns, rows) = gateway_formats::records_sample(items.iter().map(row));
                let warnings =
                    if rows.is_empty() { vec!["the catalog has no items yet".to_owned()] } else { Vec::new() };
                Ok(Inspection {
                    detected,
                    columns,
                    rows,
                    writable: None,
                    bytes_read: 0,
                    warnings,
                    files: None,
                    modified: None,
                })
            }
            _ => {
                let group = group(params, table);
                let profiles = client.profiles(group, sample_rows).await?;
                // A profile as a row: its id and its attributes, nested ones as dotted paths.
                let (columns, rows) = gateway_formats::records_sample(profiles.iter().map(row));
                let (key, id) = match group {
                    Group::List(id) => ("list_id", id),
                    Group::Segment(id) => ("segment_id", id),
                };
                detected.insert(key.into(), id.into());
                let warnings = if rows.is_empty() {
                    vec![format!("{} '{id}' has no profiles yet", key.trim_end_matches("_id"))]
                } else {
                    Vec::new()
                };
                Ok(Inspection {
                    detected,
                    columns,
                    rows,
                    writable: None,
                    bytes_read: 0,
                    warnings,
                    files: None,
                    modified: None,
                })
            }
        }
    }

    /// A list's or segment's profiles, or the catalog's items, page by page (100 a page,
    /// paced within Klaviyo's steady rate of the profile endpoints, 700 a minute:
    /// <https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling>); each row as
    /// the preview shows it. A destination table has nothing to read.
    async fn read_pages(
        &self,
        c: &KlaviyoCredentials,
        params: &KlaviyoTable,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let source = match table.resource {
            Resource::Item => Source::CatalogItems,
            Resource::User | Resource::UserId => Source::Profiles(group(params, table)),
            other => {
                return Err(ConnectorError::new(
                    ErrorKind::WrongSpecification,
                    format!("a {other} table is written, not read"),
                ));
            }
        };
        let client = self.client(c);
        let mut pacer = gateway_connector::paging::Pacer::per_minute(700);
        let mut cursor: Option<String> = None;
        let mut read = 0u64;
        loop {
            let (data, next) = pacer.call(|| client.page(source, cursor.as_deref())).await?;
            let rows: Vec<JsonObject> = data.iter().map(|r| gateway_formats::record_row(row(r))).collect();
            if gateway_connector::paging::deliver(rows, next.is_some(), &mut read, max_rows, sink)? {
                return Ok(true);
            }
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(false),
            }
        }
    }
}
