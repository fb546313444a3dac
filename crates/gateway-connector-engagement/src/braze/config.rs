//! Braze credentials and tables.
//!
//! Instances and their REST endpoints: <https://www.braze.com/docs/api/basics/#endpoints>.
//! A key works only on its own instance; the instance is given as its id (`US-01`), its REST
//! host or URL, or its dashboard URL, and stored as its REST host.

use gateway_connector::{Secret, Shape};
use gateway_domain::{Problem, Resource, Table};

/// (instance id, REST host, dashboard host), as Braze documents them.
pub const INSTANCES: &[(&str, &str, &str)] = &[
    ("US-01", "rest.iad-01.braze.com", "dashboard-01.braze.com"),
    ("US-02", "rest.iad-02.braze.com", "dashboard-02.braze.com"),
    ("US-03", "rest.iad-03.braze.com", "dashboard-03.braze.com"),
    ("US-04", "rest.iad-04.braze.com", "dashboard-04.braze.com"),
    ("US-05", "rest.iad-05.braze.com", "dashboard-05.braze.com"),
    ("US-06", "rest.iad-06.braze.com", "dashboard-06.braze.com"),
    ("US-07", "rest.iad-07.braze.com", "dashboard-07.braze.com"),
    ("US-08", "rest.iad-08.braze.com", "dashboard-08.braze.com"),
    ("US-10", "rest.us-10.braze.com", "dashboard.us-10.braze.com"),
    ("EU-01", "rest.fra-01.braze.eu", "dashboard-01.braze.eu"),
    ("EU-02", "rest.fra-02.braze.eu", "dashboard-02.braze.eu"),
    ("AU-01", "rest.au-01.braze.com", "dashboard.au-01.braze.com"),
    ("ID-01", "rest.id-01.braze.com", "dashboard.id-01.braze.com"),
    ("JP-01", "rest.jp-01.braze.com", "dashboard.jp-01.braze.com"),
    ("KR-01", "rest.kr-01.braze.com", "dashboard.kr-01.braze.com"),
];

/// The REST host of an instance given as an id, a REST host or URL, or a dashboard URL.
pub fn rest_host(given: &str) -> Option<&'static str> {
    let v = given.trim().to_ascii_lowercase();
    let v = v.strip_prefix("https://").unwrap_or(&v);
    let v = v.strip_suffix('/').unwrap_or(v);
    // The short ids of the REST hosts (`iad-01`, `fra-02`) are accepted too.
    INSTANCES
        .iter()
        .find(|(id, rest, dash)| {
            v == id.to_ascii_lowercase() || v == *rest || v == *dash || rest.split('.').nth(1) == Some(v)
        })
        .map(|(_, rest, _)| *rest)
}

pub const INSTANCE: Shape = Shape {
    pattern: "^(https://)?(rest|dashboard)[.-][a-z0-9.-]+\\.braze\\.(com|eu)/?$|^[A-Za-z]{2,3}-[0-9]{2}$",
    check: |s| rest_host(s).is_some(),
    hint: "a Braze instance: its id (US-01 ... US-08, US-10, EU-01, EU-02, AU-01, ID-01, JP-01, KR-01), its REST endpoint (rest.iad-01.braze.com) or its dashboard URL",
};

gateway_connector::credentials! {
    /// Braze credentials: a REST API key and the instance it belongs to.
    pub struct BrazeCredentials {
        /// a REST API key (Settings > APIs and Identifiers)
        api_key: Secret,
        /// the key's instance: its id (US-01), REST endpoint (rest.iad-01.braze.com) or dashboard URL
        instance: String => [shape(INSTANCE), routes],
    }
}

gateway_connector::table_params! {
    /// A Braze table: a catalog (an item source, or item_to_items_reco's destination) or a
    /// custom attribute (user_to_items_reco's destination).
    pub struct BrazeTable {
        /// item and item_to_items_reco: the catalog read or written to; the table's name when absent
        catalog: Option<String>,
        /// user_to_items_reco: the custom attribute recommendations are written to; the table's name when absent
        attribute: Option<String>,
    }
}

/// What Braze tables may be: a catalog read as items, or a recommendation destination.
pub const RESOURCES: &[Resource] = &[Resource::Item, Resource::UserToItemsReco, Resource::ItemToItemsReco];

/// What a table reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Catalog(String),
    Attribute(String),
}

/// Braze profile fields a custom attribute must not shadow
/// (<https://www.braze.com/docs/api/objects_filters/user_attributes_object/>).
const RESERVED: &[&str] = &[
    "external_id",
    "user_alias",
    "braze_id",
    "country",
    "current_location",
    "date_of_first_session",
    "date_of_last_session",
    "dob",
    "email",
    "email_subscribe",
    "first_name",
    "gender",
    "home_city",
    "language",
    "last_name",
    "phone",
    "push_subscribe",
    "push_tokens",
    "time_zone",
];

/// The table's target, its name checked as Braze documents names: catalogs "can only include
/// letters, numbers, hyphens, and underscores", at most 250; custom attribute keys at most 255
/// characters, not starting with `$`, alphanumerics and punctuation only
/// (<https://www.braze.com/docs/api/endpoints/catalogs/catalog_management/synchronous/post_create_catalog/>).
pub fn target(params: &BrazeTable, table: &Table) -> Result<Target, Problem> {
    match table.resource {
        Resource::ItemToItemsReco | Resource::Item => {
            let field = "connection_table_params.catalog";
            let name = params.catalog.clone().unwrap_or_else(|| table.name.as_str().to_owned());
            let ok = !name.is_empty()
                && name.len() <= 250
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(Problem::wrong_field(
                    field,
                    format!(
                        "'{name}' is not a Braze catalog name: letters, numbers, hyphens and underscores, at most 250"
                    ),
                ));
            }
            Ok(Target::Catalog(name))
        }
        _ => {
            let field = "connection_table_params.attribute";
            let name = params.attribute.clone().unwrap_or_else(|| table.name.as_str().to_owned());
            let ok = !name.is_empty()
                && name.chars().count() <= 255
                && !name.starts_with('$')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
            if !ok {
                return Err(Problem::wrong_field(
                    field,
                    format!(
                        "'{name}' is not a Braze custom attribute name: at most 255 letters, digits and punctuation, not starting with $"
                    ),
                ));
            }
            if RESERVED.contains(&name.as_str()) {
                return Err(Problem::wrong_field(
                    field,
                    format!("'{name}' is a Braze profile field: name a custom attribute of your own"),
                ));
            }
            Ok(Target::Attribute(name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_by_id_host_url_or_dashboard() {
        for given in [
            "US-01",
            "us-01",
            "iad-01",
            "rest.iad-01.braze.com",
            "https://rest.iad-01.braze.com/",
            "https://dashboard-01.braze.com",
        ] {
            assert_eq!(rest_host(given), Some("rest.iad-01.braze.com"), "{given}");
        }
        assert_eq!(rest_host("EU-02"), Some("rest.fra-02.braze.eu"));
        assert_eq!(rest_host("https://dashboard.us-10.braze.com"), Some("rest.us-10.braze.com"));
        for bad in [
            "rest.iad-09.braze.com",
            "rest.iad-01.braze.com.evil.com",
            "x@127.0.0.1:8443/",
            "https://127.0.0.1",
            "",
            "evil.com",
        ] {
            assert_eq!(rest_host(bad), None, "{bad}");
        }
    }
}
