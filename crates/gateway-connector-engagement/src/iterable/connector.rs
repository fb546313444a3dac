//! The Iterable connectors: ITERABLE (lists as user_id sources, user fields as recommendation
//! destinations) and ITERABLE_FEED (catalogs as item sources), one key and client for both.

use gateway_connector::{
    Column, ColumnType, Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Resource, Table};
use serde_json::Value;

use super::client::Client;
use super::config;
use gateway_connector::api::text;

fn client(outbound: &OutboundClient, kind: ConnectionKind, c: &JsonObject) -> Result<Client, ConnectorError> {
    let key =
        text(c, "api_key").ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'api_key' is missing"))?;
    Ok(Client::new(outbound, kind, text(c, "region").unwrap_or("us"), key))
}

fn credentials(c: Option<&Credentials>) -> Result<&JsonObject, ConnectorError> {
    c.map(Credentials::expose).ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))
}

fn param<'a>(table: &'a Table, key: &str) -> Option<&'a Value> {
    table.connection_table_params.get(key).filter(|v| !v.is_null())
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

/// ITERABLE: lists and user fields.
#[derive(Debug)]
pub struct IterableConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl IterableConnector {
    pub fn new(outbound: OutboundClient) -> IterableConnector {
        IterableConnector {
            spec: config::credential_spec(ConnectionKind::Iterable),
            tables: config::list_table_spec(),
            outbound,
        }
    }
}

#[async_trait::async_trait]
impl Connector for IterableConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Iterable
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        if let Some(id) = param(table, "list_id").and_then(Value::as_i64)
            && id <= 0
        {
            return Err(Problem::wrong_field(
                "connection_table_params.list_id",
                "'list_id' must be a positive list id",
            ));
        }
        Ok(())
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let client = client(&self.outbound, self.kind(), credentials.expose())?;
        let mut check = CredentialCheck::default();
        match client.lists().await {
            Ok(lists) => check.steps.push(Step::passed(
                "list_lists",
                format!("the key listed the project's lists ({} found, GET /api/lists)", lists.len()),
            )),
            Err(e) => check.steps.push(Step::failed("list_lists", e.kind, e.message)),
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = client(&self.outbound, self.kind(), self::credentials(credentials)?)?;
        if table.resource == Resource::UserToItemsReco {
            let field = param(table, "field").and_then(Value::as_str).unwrap_or(table.name.as_str()).to_owned();
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
        let lists = client.lists().await?;
        let wanted = param(table, "list_id").and_then(Value::as_i64);
        let list = match wanted {
            Some(id) => lists.iter().find(|l| l.id == id),
            None => lists.iter().find(|l| l.name == table.name.as_str()),
        };
        let Some(list) = list else {
            let named = wanted.map_or_else(|| format!("named '{}'", table.name), |id| format!("with id {id}"));
            let known: Vec<String> = lists.iter().take(20).map(|l| format!("{} ({})", l.name, l.id)).collect();
            return Err(ConnectorError::new(
                ErrorKind::ResourceNotFound,
                format!(
                    "Iterable has no list {named}; lists: {}",
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ),
            ));
        };
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
}

/// ITERABLE_FEED: catalogs.
#[derive(Debug)]
pub struct IterableFeedConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl IterableFeedConnector {
    pub fn new(outbound: OutboundClient) -> IterableFeedConnector {
        IterableFeedConnector {
            spec: config::credential_spec(ConnectionKind::IterableFeed),
            tables: config::catalog_table_spec(),
            outbound,
        }
    }

    fn catalog(table: &Table) -> String {
        param(table, "catalog").and_then(Value::as_str).unwrap_or(table.name.as_str()).to_owned()
    }
}

#[async_trait::async_trait]
impl Connector for IterableFeedConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::IterableFeed
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        let name = Self::catalog(table);
        if !config::catalog_name_ok(&name) {
            return Err(Problem::wrong_field(
                "connection_table_params.catalog",
                format!("'{name}' is not an Iterable catalog name: letters, digits and dashes, at most 255"),
            ));
        }
        Ok(())
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let client = client(&self.outbound, self.kind(), credentials.expose())?;
        let mut check = CredentialCheck::default();
        match client.catalog_count().await {
            Ok(n) => check.steps.push(Step::passed(
                "list_catalogs",
                format!("the key listed the project's catalogs ({n} found, GET /api/catalogs)"),
            )),
            Err(e) => check.steps.push(Step::failed("list_catalogs", e.kind, e.message)),
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let client = client(&self.outbound, self.kind(), self::credentials(credentials)?)?;
        let name = Self::catalog(table);
        let (defined, undefined) = client.field_mappings(&name).await?;
        let items = client.items(&name, sample_rows).await?;
        let records = items.into_iter().map(|(id, value)| {
            let mut row = JsonObject::new();
            row.insert("itemId".into(), id.into());
            if let Value::Object(fields) = value {
                row.extend(fields);
            }
            row
        });
        let (mut columns, rows) = gateway_formats::records_sample(records);
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
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
    }
}
