//! The Iterable connectors: ITERABLE (lists as user_id sources, user fields as recommendation
//! destinations) and ITERABLE_FEED (catalogs as item sources), one key and client for both.

use gateway_connector::{
    Column, ColumnType, ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step, Typed,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};
use serde_json::Value;

use super::client::{Client, List};
use super::config::{self, IterableCatalog, IterableCredentials, IterableTable};

fn client(outbound: &OutboundClient, kind: ConnectionKind, c: &IterableCredentials) -> Client {
    Client::new(outbound, kind, &c.region, c.api_key.expose())
}

/// An Iterable field type as ours (`string`, `long`, `double`, `boolean`, `date`, `object`...).
fn column_type(iterable: &str) -> ColumnType {
    match iterable {
        "long" | "integer" => ColumnType::Integer,
        "double" | "number" | "float" => ColumnType::Float,
        "boolean" => ColumnType::Boolean,
        "date" => ColumnType::Timestamp,
        "object" | "geo_location" | "nested" => ColumnType::Json,
        _ => ColumnType::String,
    }
}

/// The table's list: by its `list_id`, else the one named as the table.
async fn find_list(client: &Client, params: &IterableTable, table: &Table) -> Result<List, ConnectorError> {
    let lists = client.lists().await?;
    let wanted = params.list_id;
    let list = match wanted {
        Some(id) => lists.iter().find(|l| l.id == id),
        None => lists.iter().find(|l| l.name == table.name.as_str()),
    };
    if let Some(list) = list {
        return Ok(list.clone());
    }
    let named = wanted.map_or_else(|| format!("named '{}'", table.name), |id| format!("with id {id}"));
    let known: Vec<String> = lists.iter().take(20).map(|l| format!("{} ({})", l.name, l.id)).collect();
    Err(ConnectorError::new(
        ErrorKind::ResourceNotFound,
        format!(
            "Iterable has no list {named}; lists: {}",
            if known.is_empty() { "none".into() } else { known.join(", ") }
        ),
    ))
}

/// The longest a whole list's download may take.
const LIST_DOWNLOAD: std::time::Duration = std::time::Duration::from_secs(3600);

/// ITERABLE: lists and user fields.
#[derive(Debug)]
pub struct IterableConnector {
    outbound: OutboundClient,
}

impl IterableConnector {
    pub fn new(outbound: OutboundClient) -> Typed<IterableConnector> {
        Typed::new(IterableConnector { outbound })
    }
}

#[async_trait::async_trait]
impl Provider for IterableConnector {
    type Credentials = IterableCredentials;
    type Params = IterableTable;
    const KIND: ConnectionKind = ConnectionKind::Iterable;
    const RESOURCES: &'static [Resource] = config::LIST_RESOURCES;
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

    fn check_params(&self, params: &IterableTable, _table: &Table) -> Result<(), Problem> {
        if let Some(id) = params.list_id
            && id <= 0
        {
            return Err(Problem::wrong_field(
                "connection_table_params.list_id",
                "'list_id' must be a positive list id",
            ));
        }
        Ok(())
    }

    async fn test(&self, c: &IterableCredentials, tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let client = client(&self.outbound, Self::KIND, c);
        let mut check = CredentialCheck::default();
        let listed = check.run("list_lists", client.lists().await, |lists| {
            format!("the key listed the project's lists ({} found, GET /api/lists)", lists.len())
        });
        if listed && tables.iter().any(|t| t.resource == Resource::UserToItemsReco) {
            check.steps.push(Step::skipped(
                "update_users",
                "Iterable offers no read-only check that the key may update users: it is proven on the first write",
            ));
            check.warnings.push("the key must be a server-side key allowed to update users (POST /api/users/update) for user_to_items_reco tables".into());
        }
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &IterableCredentials,
        params: &IterableTable,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = client(&self.outbound, Self::KIND, c);
        if table.resource == Resource::UserToItemsReco {
            let field = params.field.clone().unwrap_or_else(|| table.name.as_str().to_owned());
            let fields = client.user_fields().await?;
            let note = match fields.get(&field).and_then(Value::as_str) {
                Some(ty) => format!("user field '{field}' exists ({ty}): recommendations will replace its values"),
                None => format!("user field '{field}' does not exist yet: Iterable creates it on the first write"),
            };
            let mut detected = JsonObject::new();
            detected.insert("field".into(), field.into());
            return Ok(Inspection {
                detected,
                warnings: vec![note, "Iterable offers no read-only check that the key may update users".into()],
                ..Inspection::default()
            });
        }
        let list = find_list(&client, params, table).await?;
        let users = client.preview_users(list.id, sample_rows).await?;
        let rows: Vec<JsonObject> = users
            .into_iter()
            .take(sample_rows)
            .map(|u| {
                let mut row = JsonObject::new();
                row.insert("user_id".into(), u.into());
                row
            })
            .collect();
        let mut detected = JsonObject::new();
        detected.insert("list_id".into(), list.id.into());
        Ok(Inspection {
            files: None,
            modified: None,
            detected,
            columns: vec![Column { name: "user_id".into(), ty: ColumnType::String }],
            rows,
            writable: None,
            bytes_read: 0,
            warnings: vec![format!(
                "list '{}': user ids are the profiles' userId, or their email where they have none",
                list.name
            )],
        })
    }

    /// A list's users whole: `getUsers` streamed (one request, within the 5 a minute
    /// Iterable allows it), each line a `user_id` row as the preview shows them, at most
    /// `max_rows`.
    async fn read_pages(
        &self,
        c: &IterableCredentials,
        params: &IterableTable,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        if table.resource == Resource::UserToItemsReco {
            return Err(ConnectorError::new(ErrorKind::WrongSpecification, "a user field is written, not read"));
        }
        let client = client(&self.outbound, Self::KIND, c);
        let list = find_list(&client, params, table).await?;
        let (mut page, mut read, mut truncated) = (Vec::<JsonObject>::new(), 0u64, false);
        let mut waits = 0;
        loop {
            // Rows flow only from a 200: a refusal (a 429 within the 5 a minute) has handed
            // none on, and is waited out as a paged read's are.
            let got = client
                .list_users(list.id, LIST_DOWNLOAD, |id| {
                    if read >= max_rows {
                        truncated = true;
                        return Ok(false);
                    }
                    let mut row = JsonObject::new();
                    row.insert("user_id".into(), id.into());
                    page.push(row);
                    read += 1;
                    if page.len() >= 10_000 {
                        sink.page(std::mem::take(&mut page))?;
                    }
                    Ok(true)
                })
                .await;
            match got {
                Err(e) if read == 0 && gateway_connector::paging::wait_out(&e, &mut waits).await => {}
                other => break other?,
            }
        }
        if !page.is_empty() {
            sink.page(page)?;
        }
        Ok(truncated)
    }
}

/// A catalog item as a row: its `itemId` beside its fields.
fn item_row((id, value): (Value, Value)) -> JsonObject {
    let mut row = JsonObject::new();
    row.insert("itemId".into(), id);
    if let Value::Object(fields) = value {
        row.extend(fields);
    }
    row
}

/// ITERABLE_FEED: catalogs.
#[derive(Debug)]
pub struct IterableFeedConnector {
    outbound: OutboundClient,
}

impl IterableFeedConnector {
    pub fn new(outbound: OutboundClient) -> Typed<IterableFeedConnector> {
        Typed::new(IterableFeedConnector { outbound })
    }

    fn catalog(params: &IterableCatalog, table: &Table) -> String {
        params.catalog.clone().unwrap_or_else(|| table.name.as_str().to_owned())
    }
}

#[async_trait::async_trait]
impl Provider for IterableFeedConnector {
    type Credentials = IterableCredentials;
    type Params = IterableCatalog;
    const KIND: ConnectionKind = ConnectionKind::IterableFeed;
    const RESOURCES: &'static [Resource] = config::CATALOG_RESOURCES;
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

    fn check_params(&self, params: &IterableCatalog, table: &Table) -> Result<(), Problem> {
        let name = Self::catalog(params, table);
        if !config::catalog_name_ok(&name) {
            return Err(Problem::wrong_field(
                "connection_table_params.catalog",
                format!("'{name}' is not an Iterable catalog name: letters, digits and dashes, at most 255"),
            ));
        }
        Ok(())
    }

    async fn test(&self, c: &IterableCredentials, _tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let client = client(&self.outbound, Self::KIND, c);
        let mut check = CredentialCheck::default();
        check.run("list_catalogs", client.catalog_count().await, |n| {
            format!("the key listed the project's catalogs ({n} found, GET /api/catalogs)")
        });
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &IterableCredentials,
        params: &IterableCatalog,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = client(&self.outbound, Self::KIND, c);
        let name = Self::catalog(params, table);
        let (defined, undefined) = client.field_mappings(&name).await?;
        let items = client.items(&name, sample_rows).await?;
        let (mut columns, rows) = gateway_formats::records_sample(items.into_iter().map(item_row));
        // The catalog's declared types win over what a page of values suggests; fields no item
        // of the page has are listed too.
        for (field, ty) in &defined {
            match columns.iter_mut().find(|c| &c.name == field) {
                Some(c) => c.ty = column_type(ty),
                None => columns.push(Column { name: field.clone(), ty: column_type(ty) }),
            }
        }
        for field in undefined {
            if !columns.iter().any(|c| c.name == field) {
                columns.push(Column { name: field, ty: ColumnType::String });
            }
        }
        let mut detected = JsonObject::new();
        detected.insert("catalog".into(), name.clone().into());
        let mut warnings = Vec::new();
        if rows.is_empty() {
            warnings.push(format!("catalog '{name}' has no items yet"));
        }
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings, files: None, modified: None })
    }

    /// A catalog's items page by page (100 a page, the next while the answer names a
    /// `nextPageUrl`), each row as the preview shows it. Iterable publishes no rate for
    /// catalog reads the gateway could cite: paced at 300 a minute, 429s waited out.
    async fn read_pages(
        &self,
        c: &IterableCredentials,
        params: &IterableCatalog,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let client = client(&self.outbound, Self::KIND, c);
        let name = Self::catalog(params, table);
        let mut pacer = gateway_connector::paging::Pacer::per_minute(300);
        let mut read = 0u64;
        for page in 1u32.. {
            let (items, more) = pacer.call(|| client.items_page(&name, page, 100)).await?;
            let rows = items.into_iter().map(|i| gateway_formats::record_row(item_row(i))).collect();
            if gateway_connector::paging::deliver(rows, more, &mut read, max_rows, sink)? {
                return Ok(true);
            }
            if !more {
                break;
            }
        }
        Ok(false)
    }
}
