//! The Braze connector: a REST API key proven by listing catalogs; tables are recommendation
//! destinations (a catalog for item_to_items_reco, a custom attribute for user_to_items_reco).

use gateway_connector::{
    Column, ColumnType, Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};

use super::client::Client;
use super::config::{self, Target};
use gateway_connector::api::text;

#[derive(Debug)]
pub struct BrazeConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl BrazeConnector {
    pub fn new(outbound: OutboundClient) -> BrazeConnector {
        BrazeConnector { spec: config::credential_spec(), tables: config::table_spec(), outbound }
    }

    fn client(&self, credentials: &JsonObject) -> Result<Client, ConnectorError> {
        let missing = |f: &str| ConnectorError::new(ErrorKind::WrongCredentials, format!("'{f}' is missing"));
        let key = text(credentials, "api_key").ok_or_else(|| missing("api_key"))?;
        let instance = text(credentials, "instance").and_then(config::rest_host).ok_or_else(|| missing("instance"))?;
        Ok(Client::new(&self.outbound, instance, key))
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
impl Connector for BrazeConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Braze
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    /// The instance is stored as its REST host, whichever form it was given in.
    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        let mut c = self.spec.validate(credentials)?;
        if let Some(host) = text(&c, "instance").and_then(config::rest_host) {
            c.insert("instance".into(), host.into());
        }
        Ok(c)
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        config::target(table).map(|_| ())
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let client = self.client(credentials.expose())?;
        let mut check = CredentialCheck::default();
        match client.catalogs().await {
            Ok(catalogs) => check.steps.push(Step::passed(
                "list_catalogs",
                format!("the key listed the instance's catalogs ({} found, GET /catalogs)", catalogs.len()),
            )),
            Err(e) => check.steps.push(Step::failed("list_catalogs", e.kind, e.message)),
        }
        check.warnings.push(
            "Braze offers no read-only check of the write permissions (catalogs.update_items, users.track): they are checked when the platform first writes".into(),
        );
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let credentials =
            credentials.ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let target =
            config::target(table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        match target {
            Target::Catalog(name) => {
                let client = self.client(credentials.expose())?;
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
                    Err(e) => {
                        warnings.push(format!("the catalog's items could not be sampled: {}", e.message));
                        Vec::new()
                    }
                };
                let mut detected = JsonObject::new();
                detected.insert("catalog".into(), name.into());
                warnings
                    .push("whether the key may write items (catalogs.update_items) cannot be checked read-only".into());
                Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
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
}
