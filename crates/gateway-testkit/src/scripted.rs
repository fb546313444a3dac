//! A scripted connector: a test double of a provider, to exercise the gateway's own plumbing
//! (the test and preview endpoints, statuses, error mapping) without a provider. It is never
//! registered in the binary; real providers are tested against their own peers.
//!
//! Credentials: `domain`, `client_id`, `client_secret` (secret), as in the spec's PUT example,
//! and an optional host-bearing `api_base` (https, public host) for the outbound-guard tests.
//! `client_secret: "wrong-secret"` fails authentication; `client_id: "no-scope"` passes it and
//! is forbidden to read. A table's `connection_table_params.object` names what to open:
//! `"missing"` does not exist, `"broken"` fails with a provider error, `"slow"` answers after
//! 200 ms (a check in flight long enough for others to run beside it), `"panic"` panics (a
//! connector misreading an answer), `"hang"` never answers (a tarpit), anything else has the
//! columns `itemId`, `title`, `price`, `customer.age` and three rows.

use gateway_connector::{
    Column, ColumnType, Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, FieldSpec, FieldType,
    HostRule, Inspection, ParamSpec, ParamType, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Resource, Table};
use serde_json::json;

#[derive(Debug)]
pub struct ScriptedConnector {
    spec: CredentialSpec,
    tables: TableSpec,
}

impl Default for ScriptedConnector {
    fn default() -> Self {
        ScriptedConnector::new()
    }
}

impl ScriptedConnector {
    pub fn new() -> Self {
        ScriptedConnector {
            spec: CredentialSpec::new(
                ConnectionKind::Shopify,
                vec![
                    FieldSpec::required("domain", FieldType::String, "the shop's domain"),
                    FieldSpec::required("client_id", FieldType::String, "the app's client id"),
                    FieldSpec::required("client_secret", FieldType::String, "the app's client secret").secret(),
                    FieldSpec::optional("api_base", FieldType::String, "an API origin other than the default")
                        .host(HostRule::PublicHttps),
                ],
            ),
            tables: TableSpec::new(
                vec![
                    ParamSpec::new("object", ParamType::String, "the provider object a table reads or writes"),
                    ParamSpec::new("freshness_hours", ParamType::Integer, "hours after which the object is stale"),
                    ParamSpec::new("modified_at", ParamType::Integer, "scripted: when the object last changed"),
                ],
                Resource::ALL,
            ),
        }
    }
}

impl ScriptedConnector {
    /// The same with `client_secret` not marked secret: a connector the conformance suite
    /// must catch.
    pub fn with_unmarked_secret() -> Self {
        let mut c = ScriptedConnector::new();
        for f in &mut c.spec.fields {
            f.secret = false;
        }
        c
    }
}

fn field<'a>(c: &'a Credentials, name: &str) -> &'a str {
    c.expose().get(name).and_then(|v| v.as_str()).unwrap_or_default()
}

#[async_trait::async_trait]
impl Connector for ScriptedConnector {
    fn kind(&self) -> ConnectionKind {
        self.spec.kind
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        if field(credentials, "client_secret") == "wrong-secret" {
            check.steps.push(Step::failed(
                "authenticate",
                ErrorKind::WrongCredentials,
                "the shop rejected the client secret",
            ));
            check.steps.push(Step::skipped("read_products", "not tried: authentication failed"));
            return Ok(check);
        }
        check.steps.push(Step::passed("authenticate", "token obtained"));
        if field(credentials, "client_id") == "no-scope" {
            check.steps.push(Step::failed(
                "read_products",
                ErrorKind::Forbidden,
                "the app lacks the read_products scope",
            ));
        } else {
            check.steps.push(Step::passed("read_products", "listed 1 product"));
        }
        check.warnings.push("scripted connector: nothing was called".into());
        Ok(check)
    }

    async fn inspect_table(
        &self,
        _credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let object = table.connection_table_params.get("object").and_then(|v| v.as_str()).unwrap_or("products");
        match object {
            "missing" => {
                return Err(ConnectorError::new(ErrorKind::ResourceNotFound, "object 'missing' does not exist"));
            }
            "broken" => return Err(ConnectorError::new(ErrorKind::Unavailable, "the shop answered 503")),
            "slow" => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            // A connector that misreads a provider's answer (the review's S3 panic).
            "panic" => panic!("scripted: the provider's answer cannot be read"),
            // A provider that accepts the connection and never answers (a tarpit).
            "hang" => tokio::time::sleep(std::time::Duration::from_secs(3600)).await,
            _ => {}
        }
        if table.resource.is_destination() {
            return Ok(Inspection { writable: Some(true), ..Inspection::default() });
        }
        let col = |name: &str, ty| Column { name: name.into(), ty };
        let rows: Vec<JsonObject> = (1..=3)
            .map(|i| {
                json!({"itemId": format!("sku-{i}"), "title": format!("Item {i}"), "price": i as f64 * 1.5, "customer.age": 30 + i})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            })
            .take(sample_rows)
            .collect();
        let mut detected = JsonObject::new();
        detected.insert("object".into(), json!(object));
        Ok(Inspection {
            files: None,
            modified: table.connection_table_params.get("modified_at").and_then(serde_json::Value::as_i64),
            detected,
            columns: vec![
                col("itemId", ColumnType::String),
                col("title", ColumnType::String),
                col("price", ColumnType::Float),
                col("customer.age", ColumnType::Integer),
            ],
            rows,
            writable: None,
            bytes_read: 0,
            warnings: Vec::new(),
        })
    }
}
