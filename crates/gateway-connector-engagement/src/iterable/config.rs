//! Iterable credentials (shared by both kinds) and tables.

use gateway_connector::{Secret, Shape};
use gateway_domain::Resource;

/// A key works only against its own data centre's host
/// (<https://support.iterable.com/hc/en-us/articles/17572750887444>).
pub fn origin(region: &str) -> &'static str {
    match region {
        "eu" => "https://api.eu.iterable.com",
        _ => "https://api.iterable.com",
    }
}

pub const REGION: Shape = Shape {
    pattern: "^(us|eu)$",
    check: |s| matches!(s, "us" | "eu"),
    hint: "us (api.iterable.com) or eu (api.eu.iterable.com), the project's data centre",
};

gateway_connector::credentials! {
    /// Iterable credentials (both kinds): a server-side API key and its data centre.
    pub struct IterableCredentials {
        /// a server-side (standard) API key of the project
        api_key: Secret,
        /// the project's data centre: us or eu
        region: String => [default_value("us".into()), shape(REGION), routes],
    }
}

gateway_connector::table_params! {
    /// An ITERABLE table: a list (user_id source) or a user field (user_to_items_reco destination).
    pub struct IterableTable {
        /// user_id: the list's id; the list named as the table when absent
        list_id: Option<i64>,
        /// user_to_items_reco: the user field written; the table's name when absent
        field: Option<String>,
    }
}

gateway_connector::table_params! {
    /// An ITERABLE_FEED table: a catalog (item source).
    pub struct IterableCatalog {
        /// the catalog; the table's name when absent
        catalog: Option<String>,
    }
}

pub const LIST_RESOURCES: &[Resource] = &[Resource::UserId, Resource::UserToItemsReco];
pub const CATALOG_RESOURCES: &[Resource] = &[Resource::Item];

/// Catalog names: "Alphanumeric, dashes, case insensitive, 255 characters max" (the API spec's
/// `catalogName` parameter).
pub fn catalog_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}
