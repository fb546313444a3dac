//! Shopify credentials, tables, and the Admin API version every call is pinned to.

use gateway_connector::{Secret, Shape};
use gateway_domain::Resource;

/// The GraphQL Admin API version every call uses: one place to move it. Shopify releases a
/// version each quarter and supports it at least twelve months
/// (<https://shopify.dev/docs/api/usage/versioning>): 2026-10, the latest stable, until
/// 2027-10-01.
pub const API_VERSION: &str = "2026-10";
pub const VERSION: gateway_connector::ApiVersion = gateway_connector::ApiVersion {
    version: API_VERSION,
    retires: "2027-10-01",
    source: "https://shopify.dev/docs/api/usage/versioning",
};

/// The shop's `*.myshopify.com` host from its name, that host, or its admin URL
/// (`https://admin.shopify.com/store/{name}`), lower case; `None` for anything else (a custom
/// storefront domain cannot reach the Admin API).
pub fn shop_host(given: &str) -> Option<String> {
    let v = given.trim().to_ascii_lowercase();
    let v = v.strip_prefix("https://").unwrap_or(&v);
    let v = v.trim_end_matches('/');
    let name = if let Some(name) = v.strip_prefix("admin.shopify.com/store/") {
        name
    } else if let Some(name) = v.strip_suffix(".myshopify.com") {
        name
    } else {
        v
    };
    let ok = (1..=60).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| format!("{name}.myshopify.com"))
}

pub const SHOP: Shape = Shape {
    pattern: "^[A-Za-z0-9][A-Za-z0-9_-]*(\\.myshopify\\.com)?$",
    check: |s| shop_host(s).is_some(),
    hint: "the shop: its name, name.myshopify.com or https://admin.shopify.com/store/name",
};

gateway_connector::credentials! {
    /// Shopify credentials: a Dev Dashboard app's client id and secret (tokens by the
    /// client-credentials grant, valid 24 h, minted as needed), or a legacy custom app's
    /// static Admin API token.
    pub struct ShopifyCredentials {
        /// the shop (name, name.myshopify.com or its admin URL)
        shop: String => [shape(SHOP), routes],
        /// a Dev Dashboard app's client id (with client_secret; the app must belong to the shop's organization)
        client_id: Option<String>,
        /// the Dev Dashboard app's client secret
        client_secret: Option<Secret>,
        /// legacy: a custom app's static Admin API access token (shpat_...), instead of client_id and client_secret
        access_token: Option<Secret>,
    }
}

/// What a table reads, and the scope it needs.
pub const OBJECTS: &[(&str, &str)] =
    &[("products", "read_products"), ("customers", "read_customers"), ("orders", "read_orders")];

gateway_connector::table_params! {
    /// A Shopify table: the shop's products, customers or orders.
    pub struct ShopifyTable {
        /// what the table reads: products (item), customers (user, user_id), orders (interaction: one row per line item, a purchase); chosen from the resource when absent
        object: Option<String> => [one_of(&["products", "customers", "orders"])],
    }
}

pub const RESOURCES: &[Resource] = &[Resource::Item, Resource::User, Resource::UserId, Resource::Interaction];

/// The object a resource reads by default.
pub fn default_object(resource: Resource) -> &'static str {
    match resource {
        Resource::Item => "products",
        Resource::User | Resource::UserId => "customers",
        _ => "orders",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shops_by_name_host_or_admin_url() {
        for given in
            ["acme", "ACME.myshopify.com", "https://acme.myshopify.com/", "https://admin.shopify.com/store/acme"]
        {
            assert_eq!(shop_host(given).as_deref(), Some("acme.myshopify.com"), "{given}");
        }
        for bad in [
            "shop.example.com",
            "acme.myshopify.com.evil.com",
            "127.0.0.1",
            "a/b",
            "x@acme",
            "acme.myshopify.com:443",
            "",
        ] {
            assert_eq!(shop_host(bad), None, "{bad}");
        }
    }
}
