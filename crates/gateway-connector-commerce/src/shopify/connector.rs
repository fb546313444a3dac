//! The Shopify connector: a token proven by `GET shop.json`; products, customers and orders
//! as sources, 10 sampled, flattened to dotted paths; orders as one row per line item (a
//! purchase), so an interaction table maps without work.

use gateway_connector::api::JsonAt;
use gateway_connector::api::text;
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use serde_json::{Value, json};

use super::client::Client;
use super::config;

#[derive(Debug)]
pub struct ShopifyConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
}

impl ShopifyConnector {
    pub fn new(outbound: OutboundClient) -> ShopifyConnector {
        ShopifyConnector { spec: config::credential_spec(), tables: config::table_spec(), outbound }
    }

    fn client(&self, c: &JsonObject) -> Result<Client, ConnectorError> {
        let missing = |f: &str| ConnectorError::new(ErrorKind::WrongCredentials, format!("'{f}' is missing"));
        let shop = text(c, "shop").and_then(config::shop_host).ok_or_else(|| missing("shop"))?;
        Ok(Client::new(&self.outbound, &shop, text(c, "access_token").ok_or_else(|| missing("access_token"))?))
    }

    fn object(table: &Table) -> &str {
        table
            .connection_table_params
            .get("object")
            .and_then(Value::as_str)
            .unwrap_or_else(|| config::default_object(table.resource))
    }
}

/// An order's line items as purchases: the platform's interaction fields named as it names them.
fn purchases(order: &Value) -> Vec<JsonObject> {
    order["line_items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|li| {
            json!({
                "user_id": order.at("/customer/id"),
                "item_id": li["product_id"],
                "interaction_type": "purchase",
                "timestamp": order["created_at"],
                "order_id": order["id"],
                "variant_id": li["variant_id"],
                "quantity": li["quantity"],
                "price": li["price"],
                "currency": order["currency"],
            })
            .as_object()
            .cloned()
        })
        .collect()
}

#[async_trait::async_trait]
impl Connector for ShopifyConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Shopify
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    /// The shop is stored as its `*.myshopify.com` host, whichever form it was given in.
    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        let mut c = self.spec.validate(credentials)?;
        if let Some(host) = text(&c, "shop").and_then(config::shop_host) {
            c.insert("shop".into(), host.into());
        }
        Ok(c)
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let client = self.client(credentials.expose())?;
        let mut check = CredentialCheck::default();
        match client.shop().await {
            Ok(shop) => check.steps.push(Step::passed(
                "get_shop",
                format!(
                    "the token reads shop {} ({})",
                    shop.at("/name").as_str().unwrap_or("?"),
                    shop.at("/myshopify_domain").as_str().unwrap_or("?")
                ),
            )),
            Err(e) => check.steps.push(Step::failed("get_shop", e.kind, e.message)),
        }
        check
            .warnings
            .push("each table's scope (read_products, read_customers, read_orders) is checked by its preview".into());
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
        let object = Self::object(table).to_owned();
        let scope = config::OBJECTS.iter().find(|(o, _)| *o == object).map_or("read_products", |(_, s)| *s);
        let records = self.client(c)?.list(&object, scope, sample_rows).await?;
        let mut warnings = Vec::new();
        let rows: Vec<JsonObject> = match object.as_str() {
            "orders" => records.iter().flat_map(purchases).take(sample_rows).collect(),
            "products" | "customers" => records
                .into_iter()
                .filter_map(|r| {
                    let Value::Object(mut o) = r else { return None };
                    // The platform's id field beside Shopify's, so the mapping infers itself.
                    let id = o.get("id").cloned().unwrap_or(Value::Null);
                    o.insert(if object == "products" { "item_id" } else { "user_id" }.into(), id);
                    Some(o)
                })
                .collect(),
            _ => Vec::new(),
        };
        if rows.is_empty() {
            warnings.push(format!("the shop has no {object} yet"));
        }
        let (columns, rows) = gateway_formats::records_sample(rows);
        let mut detected = JsonObject::new();
        detected.insert("object".into(), object.into());
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
    }
}
