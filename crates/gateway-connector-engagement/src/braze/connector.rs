//! The Braze connector. Braze keys carry per-endpoint permissions and Braze offers no key
//! introspection, so the test proves what can be proven read-only for the connection's tables:
//! `GET /catalogs` shows the key is the instance's (401 and 404 "Unknown REST API Key" refuse
//! it; 403 "Access Denied" knows it but lacks `catalogs.get`), and has `catalogs.get` when a
//! table reads or writes a catalog. Writes (`users.track`, `catalogs.update_items`) cannot be
//! checked without writing: those steps are skipped, and the connection stays `unverified`.
//!
//! Tables: a catalog as an item source (its fields, a page of items), a catalog for
//! item_to_items_reco, a custom attribute for user_to_items_reco.

use gateway_connector::{
    Column, ColumnType, ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};

use super::client::Client;
use super::config::{self, BrazeCredentials, BrazeTable, Target};

#[derive(Debug)]
pub struct BrazeConnector {
    outbound: OutboundClient,
}

impl BrazeConnector {
    pub fn new(outbound: OutboundClient) -> gateway_connector::Typed<BrazeConnector> {
        gateway_connector::Typed::new(BrazeConnector { outbound })
    }

    fn client(&self, c: &BrazeCredentials) -> Result<Client, ConnectorError> {
        let instance = config::rest_host(&c.instance)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'instance' is not a Braze instance"))?;
        Ok(Client::new(&self.outbound, instance, c.api_key.expose()))
    }
}

fn column_type(braze: &str) -> ColumnType {
    match braze {
        "number" => ColumnType::Float,
        "boolean" => ColumnType::Boolean,
        "time" => ColumnType::Timestamp,
        "object" | "array" => ColumnType::Json,
        _ => ColumnType::String,
    }
}

#[async_trait::async_trait]
impl Provider for BrazeConnector {
    type Credentials = BrazeCredentials;
    type Params = BrazeTable;
    const KIND: ConnectionKind = ConnectionKind::Braze;
    const RESOURCES: &'static [Resource] = config::RESOURCES;
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

    /// The instance is stored as its REST host, whichever form it was given in.
    fn normalize(&self, mut c: JsonObject) -> Result<JsonObject, Problem> {
        if let Some(host) = c.get("instance").and_then(|v| v.as_str()).and_then(config::rest_host) {
            c.insert("instance".into(), host.into());
        }
        Ok(c)
    }

    fn check_params(&self, params: &BrazeTable, table: &Table) -> Result<(), Problem> {
        config::target(params, table).map(|_| ())
    }

    async fn test(&self, c: &BrazeCredentials, tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let client = self.client(c)?;
        let mut check = CredentialCheck::default();
        let reads_catalogs = tables.iter().any(|t| matches!(t.resource, Resource::Item | Resource::ItemToItemsReco));
        let writes_catalogs = tables.iter().any(|t| t.resource == Resource::ItemToItemsReco);
        let writes_users = tables.is_empty() || tables.iter().any(|t| t.resource == Resource::UserToItemsReco);
        match client.catalogs().await {
            Ok(catalogs) => {
                check.steps.push(Step::passed("authenticate", "Braze knows the key on this instance (GET /catalogs)"));
                if reads_catalogs {
                    check.steps.push(Step::passed(
                        "read_catalogs",
                        format!("the key lists the instance's catalogs ({} found; catalogs.get)", catalogs.len()),
                    ));
                }
            }
            // Known, but without catalogs.get: authenticated all the same.
            Err(e) if e.kind == ErrorKind::Forbidden => {
                check.steps.push(Step::passed(
                    "authenticate",
                    "Braze knows the key on this instance (it answered Access Denied, not an unknown key)",
                ));
                if reads_catalogs {
                    check.steps.push(Step::failed("read_catalogs", e.kind, e.message));
                }
            }
            Err(e) => {
                check.steps.push(Step::failed("authenticate", e.kind, e.message));
                return Ok(check);
            }
        }
        if writes_users {
            check.steps.push(Step::skipped(
                "write_user_attributes",
                "Braze offers no read-only check of users.track: it is proven when the platform first writes",
            ));
            check.warnings.push(
                "the key's users.track permission cannot be checked read-only: give the key users.track for user_to_items_reco tables".into(),
            );
        }
        if writes_catalogs {
            check.steps.push(Step::skipped(
                "write_catalog_items",
                "Braze offers no read-only check of catalogs.update_items: it is proven when the platform first writes",
            ));
            check.warnings.push(
                "the key's catalogs.update_items permission cannot be checked read-only: give the key catalogs.update_items for item_to_items_reco tables".into(),
            );
        }
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &BrazeCredentials,
        params: &BrazeTable,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let target =
            config::target(params, table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        match target {
            Target::Catalog(name) => {
                let client = self.client(c)?;
                let catalogs = client.catalogs().await?;
                let Some(catalog) = catalogs.iter().find(|c| c.name == name) else {
                    let known: Vec<&str> = catalogs.iter().take(20).map(|c| c.name.as_str()).collect();
                    return Err(ConnectorError::new(
                        ErrorKind::ResourceNotFound,
                        format!(
                            "Braze has no catalog '{name}': create it first; catalogs on this instance: {}",
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        ),
                    ));
                };
                let columns =
                    catalog.fields.iter().map(|(n, t)| Column { name: n.clone(), ty: column_type(t) }).collect();
                let mut warnings = Vec::new();
                let rows = match client.items(&name).await {
                    Ok(items) => items.into_iter().filter_map(|i| i.as_object().cloned()).take(sample_rows).collect(),
                    // Reading items is what an item source is for; a destination only warns.
                    Err(e) if table.resource == Resource::Item => return Err(e),
                    Err(e) => {
                        warnings.push(format!("the catalog's items could not be sampled: {}", e.message));
                        Vec::new()
                    }
                };
                let mut detected = JsonObject::new();
                detected.insert("catalog".into(), name.into());
                if table.resource == Resource::ItemToItemsReco {
                    warnings.push(
                        "whether the key may write items (catalogs.update_items) cannot be checked read-only".into(),
                    );
                }
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
            Target::Attribute(name) => {
                let mut detected = JsonObject::new();
                detected.insert("attribute".into(), name.clone().into());
                Ok(Inspection {
                    detected,
                    warnings: vec![format!(
                        "custom attribute '{name}' is a valid name; Braze offers no read-only check that the key may write it (users.track)"
                    )],
                    ..Inspection::default()
                })
            }
        }
    }

    /// A catalog's items page by page (50 a page), paced within the 50 requests a minute
    /// Braze allows all synchronous catalog item endpoints together
    /// (<https://www.braze.com/docs/api/endpoints/catalogs/catalog_items/synchronous/get_catalog_items_details_bulk/>):
    /// 2,500 items a minute, so a catalog of 100,000 items takes 40 minutes.
    async fn read_pages(
        &self,
        c: &BrazeCredentials,
        params: &BrazeTable,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let target =
            config::target(params, table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        let (Target::Catalog(name), Resource::Item) = (target, table.resource) else {
            return Err(ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("a {} table is written, not read", table.resource),
            ));
        };
        let client = self.client(c)?;
        let mut pacer = gateway_connector::paging::Pacer::per_minute(50);
        let mut cursor: Option<String> = None;
        let mut read = 0u64;
        loop {
            let (items, next) = pacer.call(|| client.items_page(&name, cursor.as_deref())).await?;
            // Every item a row (one that is not an object: a row without an id, counted).
            let rows: Vec<JsonObject> = items.into_iter().map(|i| i.as_object().cloned().unwrap_or_default()).collect();
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
