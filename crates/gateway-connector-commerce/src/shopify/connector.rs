//! The Shopify connector. Since 2026-01-01 new custom apps come from the Dev Dashboard and
//! get tokens through the client-credentials grant (24 h): the connection holds the app's
//! client id and secret and the gateway mints tokens as it needs them; a legacy custom app's
//! static token still works, with a warning. The test exchanges (or takes) the token, reads
//! its scopes (`access_scopes.json`, read-only) and names any scope the connection's tables
//! need and lack, then reads the shop over the GraphQL Admin API. Tables read products
//! (item), customers (user) and orders (interaction: a row per line item) over GraphQL, ids
//! as the REST ids (`legacyResourceId`), so mappings carry over.

use std::sync::Arc;

use gateway_connector::api::JsonAt;
use gateway_connector::{
    ConnectorError, CredentialCheck, ErrorKind, Inspection, OutboundClient, Provider, Step, Typed,
};
use gateway_domain::{ConnectionKind, JsonObject, Problem, Resource, Table};
use serde_json::{Value, json};

use super::client::{Auth, Client, TokenCache};
use super::config::{self, ShopifyCredentials, ShopifyTable};

const SHOP: &str = "{ shop { name myshopifyDomain currencyCode } }";
const PRODUCTS: &str = "query($first: Int!) { products(first: $first) { nodes { id legacyResourceId title handle vendor productType status updatedAt variants(first: 100) { nodes { id legacyResourceId sku title price inventoryQuantity } } } } }";
const CUSTOMERS: &str = "query($first: Int!) { customers(first: $first) { nodes { id legacyResourceId email firstName lastName numberOfOrders createdAt updatedAt defaultAddress { city country } } } }";
const ORDERS: &str = "query($first: Int!) { orders(first: $first, sortKey: CREATED_AT, reverse: true) { nodes { id legacyResourceId name createdAt currencyCode customer { legacyResourceId } lineItems(first: 100) { nodes { legacyResourceId quantity product { legacyResourceId } variant { legacyResourceId } originalUnitPriceSet { shopMoney { amount } } } } } } }";

/// The same objects as bulk queries (<https://shopify.dev/docs/api/usage/bulk-operations/queries>:
/// connections without page arguments, nested ones as `edges { node }`); products without
/// their variants (a nested connection would need the file grouped, which Shopify advises
/// against), orders with their line items grouped right below each order.
const PRODUCTS_BULK: &str =
    "{ products { edges { node { id legacyResourceId title handle vendor productType status updatedAt } } } }";
const CUSTOMERS_BULK: &str = "{ customers { edges { node { id legacyResourceId email firstName lastName numberOfOrders createdAt updatedAt defaultAddress { city country } } } } }";
const ORDERS_BULK: &str = "{ orders { edges { node { id legacyResourceId name createdAt currencyCode customer { legacyResourceId } lineItems { edges { node { legacyResourceId quantity product { legacyResourceId } variant { legacyResourceId } originalUnitPriceSet { shopMoney { amount } } } } } } } } }";
/// The longest a whole read's bulk file may take to download.
const BULK_DOWNLOAD: std::time::Duration = std::time::Duration::from_secs(3600);
/// Rows handed on at a time.
const PAGE_ROWS: usize = 1000;

const LEGACY: &str = "a static Admin API token is a legacy custom app's: since 2026-01-01 new apps come from the Dev Dashboard; give its client_id and client_secret, and the gateway mints its 24-hour tokens as needed";

#[derive(Debug)]
pub struct ShopifyConnector {
    outbound: OutboundClient,
    tokens: Arc<TokenCache>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache(..)")
    }
}

impl ShopifyConnector {
    pub fn new(outbound: OutboundClient) -> Typed<ShopifyConnector> {
        Typed::new(ShopifyConnector { outbound, tokens: Arc::default() })
    }

    async fn client(&self, c: &ShopifyCredentials) -> Result<(Client, bool), ConnectorError> {
        let outbound = &self.outbound;
        let shop = config::shop_host(&c.shop)
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'shop' is not a shop"))?;
        let auth = match (&c.client_id, &c.client_secret, &c.access_token) {
            (Some(id), Some(secret), _) => Auth::App { client_id: id, client_secret: secret.expose() },
            (_, _, Some(token)) => Auth::Static(token.expose()),
            _ => return Err(ConnectorError::new(ErrorKind::WrongCredentials, "give client_id and client_secret")),
        };
        let session = Client::connect(outbound, &self.tokens, &shop, auth).await?;
        Ok((session.client, session.minted))
    }
}

fn object(params: &ShopifyTable, table: &Table) -> &'static str {
    let given = params.object.as_deref().map(str::to_ascii_lowercase);
    match given.as_deref() {
        Some("products") => "products",
        Some("customers") => "customers",
        Some("orders") => "orders",
        _ => config::default_object(table.resource),
    }
}

fn scope_of(object: &str) -> &'static str {
    config::OBJECTS.iter().find(|(o, _)| *o == object).map_or("read_products", |(_, s)| *s)
}

/// A GraphQL node's numeric id (the REST id).
fn legacy(v: &Value) -> Value {
    match v.as_str().and_then(|s| s.parse::<i64>().ok()) {
        Some(n) => n.into(),
        None => v.clone(),
    }
}

/// A product as a row: the platform's `item_id` beside Shopify's fields, variants (when
/// read) as a list.
fn product_row(p: &Value) -> JsonObject {
    let mut row = p.as_object().cloned().unwrap_or_default();
    row.remove("legacyResourceId");
    row.insert("item_id".into(), legacy(p.at("/legacyResourceId")));
    if row.contains_key("variants") {
        let variants: Vec<Value> = p
            .at("/variants/nodes")
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| json!({"id": legacy(v.at("/legacyResourceId")), "sku": v.at("/sku"), "title": v.at("/title"), "price": v.at("/price")}))
            .collect();
        row.insert("variants".into(), Value::Array(variants));
    }
    row
}

fn customer_row(c: &Value) -> JsonObject {
    let mut row = c.as_object().cloned().unwrap_or_default();
    row.remove("legacyResourceId");
    row.insert("user_id".into(), legacy(c.at("/legacyResourceId")));
    row
}

/// An order's line items as purchases: the platform's interaction fields named as it names them.
fn purchases(order: &Value) -> Vec<JsonObject> {
    order
        .at("/lineItems/nodes")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|li| {
            json!({
                "user_id": legacy(order.at("/customer/legacyResourceId")),
                "item_id": legacy(li.at("/product/legacyResourceId")),
                "interaction_type": "purchase",
                "timestamp": order.at("/createdAt"),
                "order_id": legacy(order.at("/legacyResourceId")),
                "variant_id": legacy(li.at("/variant/legacyResourceId")),
                "quantity": li.at("/quantity"),
                "price": li.at("/originalUnitPriceSet/shopMoney/amount"),
                "currency": order.at("/currencyCode"),
            })
            .as_object()
            .cloned()
        })
        .collect()
}

/// A bulk query still running: cancelled at Shopify when dropped (best effort, in a task of
/// its own, since a drop cannot wait).
struct Running(Option<(Client, String)>);

impl Drop for Running {
    fn drop(&mut self) {
        if let (Some((client, id)), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            // Nothing more to do if it fails: Shopify ends the query within its 10 days.
            runtime.spawn(async move { client.bulk_cancel(&id).await.ok() });
        }
    }
}

#[async_trait::async_trait]
impl Provider for ShopifyConnector {
    type Credentials = ShopifyCredentials;
    type Params = ShopifyTable;
    const KIND: ConnectionKind = ConnectionKind::Shopify;
    const RESOURCES: &'static [Resource] = config::RESOURCES;
    const VERSION: Option<gateway_connector::ApiVersion> = Some(config::VERSION);
    const WHOLE_READ: gateway_connector::WholeRead = gateway_connector::WholeRead::Pages;

    /// The shop is stored as its `*.myshopify.com` host, whichever form it was given in; an
    /// app's id and secret come together, or a legacy token alone.
    fn normalize(&self, mut c: JsonObject) -> Result<JsonObject, Problem> {
        if let Some(host) = c.get("shop").and_then(|v| v.as_str()).and_then(config::shop_host) {
            c.insert("shop".into(), host.into());
        }
        let has = |k: &str| c.get(k).is_some_and(Value::is_string);
        match (has("client_id"), has("client_secret"), has("access_token")) {
            (true, true, false) | (false, false, true) => Ok(c),
            (true, false, _) => Err(Problem::wrong_field(
                "credentials.client_secret",
                "'client_secret' is required with client_id: the app's secret (Dev Dashboard > Settings)",
            )),
            (false, true, _) => Err(Problem::wrong_field(
                "credentials.client_id",
                "'client_id' is required with client_secret: the app's client id (Dev Dashboard > Settings)",
            )),
            (true, true, true) => Err(Problem::wrong_field(
                "credentials.access_token",
                "give the app's client_id and client_secret, or a legacy access_token, not both",
            )),
            (false, false, false) => Err(Problem::wrong_field(
                "credentials.client_id",
                "'client_id' and 'client_secret' of a Dev Dashboard app are required (or a legacy custom app's access_token)",
            )),
        }
    }

    async fn test(&self, c: &ShopifyCredentials, tables: &[Table]) -> Result<CredentialCheck, ConnectorError> {
        let mut check = CredentialCheck::default();
        let (client, minted) = match self.client(c).await {
            Ok(pair) => pair,
            Err(e) => {
                check.steps.push(Step::failed("token", e.kind, e.message));
                return Ok(check);
            }
        };
        if c.access_token.is_some() {
            check.warnings.push(LEGACY.into());
        } else {
            let how = if minted { "minted now" } else { "minted earlier, still valid" };
            check.steps.push(Step::passed(
                "token",
                format!("the app's client credentials gave an Admin API token ({how}; it lives 24 h)"),
            ));
        }
        let scopes = match client.access_scopes().await {
            Ok(s) => s,
            Err(e) => {
                check.steps.push(Step::failed("access_scopes", e.kind, e.message));
                return Ok(check);
            }
        };
        check.steps.push(Step::passed("access_scopes", format!("the token's scopes: {}", scopes.join(", "))));
        check.run("read_shop", client.graphql(SHOP, json!({}), "the shop", "").await, |data| {
            format!(
                "the token reads shop {} ({}) over the GraphQL Admin API {}",
                data.at("/shop/name").as_str().unwrap_or("?"),
                data.at("/shop/myshopifyDomain").as_str().unwrap_or("?"),
                config::API_VERSION
            )
        });
        let mut needed: Vec<&str> = tables
            .iter()
            .map(|t| {
                let p: ShopifyTable =
                    serde_json::from_value(Value::Object(t.connection_table_params.clone())).unwrap_or_default();
                scope_of(object(&p, t))
            })
            .collect();
        needed.sort_unstable();
        needed.dedup();
        for scope in needed {
            let step = format!("scope_{scope}");
            if scopes.iter().any(|s| s == scope || s == &scope.replacen("read_", "write_", 1)) {
                check.steps.push(Step::passed(step, format!("the token has {scope}, which its tables need")));
            } else {
                check.steps.push(Step::failed(
                    step,
                    ErrorKind::Forbidden,
                    format!("the token lacks the {scope} scope its tables need: add {scope} to the app's scopes and reinstall it"),
                ));
            }
        }
        Ok(check)
    }

    async fn inspect(
        &self,
        c: &ShopifyCredentials,
        params: &ShopifyTable,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let object = object(params, table);
        let scope = scope_of(object);
        let (client, _) = self.client(c).await?;
        let first = json!({"first": sample_rows.clamp(1, 250)});
        let rows: Vec<JsonObject> = match object {
            "products" => {
                let data = client.graphql(PRODUCTS, first, "products", scope).await?;
                data.at("/products/nodes").as_array().into_iter().flatten().map(product_row).collect()
            }
            "customers" => {
                let data = client.graphql(CUSTOMERS, first, "customers", scope).await?;
                data.at("/customers/nodes").as_array().into_iter().flatten().map(customer_row).collect()
            }
            _ => {
                let data = client.graphql(ORDERS, first, "orders", scope).await?;
                data.at("/orders/nodes")
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(purchases)
                    .take(sample_rows)
                    .collect()
            }
        };
        let mut warnings = Vec::new();
        if rows.is_empty() {
            warnings.push(format!("the shop has no {object} yet"));
        }
        if object == "orders" {
            warnings.push("without the read_all_orders scope Shopify answers the last 60 days of orders only".into());
        }
        if c.access_token.is_some() {
            warnings.push(LEGACY.into());
        }
        let (columns, rows) = gateway_formats::records_sample(rows);
        let mut detected = JsonObject::new();
        detected.insert("object".into(), object.into());
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings, files: None, modified: None })
    }

    /// The whole object as one bulk query: started, polled until it completes (every half
    /// second at first, at most every 10 s), its JSONL file streamed a line at a time (from
    /// Shopify's storage only) into rows as the preview shows them, at most `max_rows`.
    /// Bulk queries do not spend the shop's GraphQL rate limit; the few calls made are paced.
    async fn read_pages(
        &self,
        c: &ShopifyCredentials,
        params: &ShopifyTable,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn gateway_connector::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let object = object(params, table);
        let scope = scope_of(object);
        let (query, group) = match object {
            "products" => (PRODUCTS_BULK, false),
            "customers" => (CUSTOMERS_BULK, false),
            _ => (ORDERS_BULK, true),
        };
        let (client, _) = self.client(c).await?;
        let mut pacer = gateway_connector::paging::Pacer::per_minute(120);
        let id = pacer.call(|| client.bulk_start(query, group, object, scope)).await?;
        // Until it ends, the operation is cancelled if this read stops (failed, timed out, or
        // the validation cancelled and this future dropped).
        let mut running = Running(Some((client.clone(), id.clone())));
        let mut wait = std::time::Duration::from_millis(500);
        let url = loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(10));
            let bulk = pacer.call(|| client.bulk_status(&id, object, scope)).await?;
            if !matches!(bulk.status.as_str(), "CREATED" | "RUNNING") {
                running.0 = None;
            }
            match bulk.status.as_str() {
                "COMPLETED" => break bulk.url,
                "CREATED" | "RUNNING" => {}
                "FAILED" if bulk.error.as_deref() == Some("ACCESS_DENIED") => {
                    return Err(ConnectorError::new(
                        ErrorKind::Forbidden,
                        format!("Shopify denied the bulk query of {object}: add the {scope} scope to the app"),
                    ));
                }
                other => {
                    return Err(ConnectorError::new(
                        ErrorKind::Unavailable,
                        format!(
                            "Shopify's bulk query of {object} ended {other}{}",
                            bulk.error.map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                    ));
                }
            }
        };
        // No file: the query matched nothing.
        let Some(url) = url else { return Ok(false) };
        let (mut page, mut read, mut truncated) = (Vec::new(), 0u64, false);
        let mut order: Option<Value> = None;
        client
            .bulk_lines(&url, BULK_DOWNLOAD, |line| {
                let rows: Vec<JsonObject> = match (object, line.at("/__parentId").as_str()) {
                    ("products", None) => vec![product_row(&line)],
                    ("customers", None) => vec![customer_row(&line)],
                    ("orders", None) => {
                        order = Some(line);
                        Vec::new()
                    }
                    // A line item, right below its order (the file is grouped).
                    ("orders", Some(parent)) => match &order {
                        Some(o) if o.at("/id").as_str() == Some(parent) => {
                            let mut one = o.clone();
                            if let Some(fields) = one.as_object_mut() {
                                fields.insert("lineItems".into(), json!({"nodes": [line]}));
                            }
                            purchases(&one)
                        }
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                };
                for row in rows {
                    if read >= max_rows {
                        truncated = true;
                        return Ok(false);
                    }
                    page.push(gateway_formats::record_row(row));
                    read += 1;
                    if page.len() >= PAGE_ROWS {
                        sink.page(std::mem::take(&mut page))?;
                    }
                }
                Ok(true)
            })
            .await?;
        if !page.is_empty() {
            sink.page(page)?;
        }
        Ok(truncated)
    }
}
