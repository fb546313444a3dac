//! Klaviyo credentials, tables and the one revision every call is pinned to.

use gateway_connector::{Secret, Shape};
use gateway_domain::Resource;

pub const ORIGIN: &str = "https://a.klaviyo.com";

/// The API revision every request is pinned to (the `revision` header), with the fall-forward
/// opt-out: once Klaviyo retires it, calls answer 410 rather than silently changing shape.
/// Revisions are stable a year, deprecated a year, retired two years after release
/// (<https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy>).
pub const REVISION: &str = "2026-10-15";
pub const VERSION: gateway_connector::ApiVersion = gateway_connector::ApiVersion {
    version: REVISION,
    retires: "2028-10-15",
    source: "https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy",
};

/// "Private keys will have the prefix `pk_` followed by a longer alphanumeric string."
pub const PRIVATE_KEY: Shape = Shape {
    pattern: "^pk_[A-Za-z0-9]{8,}$",
    check: |s| {
        s.strip_prefix("pk_").is_some_and(|rest| rest.len() >= 8 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    },
    hint: "a private API key: pk_ followed by letters and digits (a public key or site id is refused)",
};

gateway_connector::credentials! {
    /// Klaviyo credentials: a private API key.
    pub struct KlaviyoCredentials {
        /// a private API key (pk_...) with the read scopes of its tables: lists:read and profiles:read (lists), segments:read and profiles:read (segments), catalogs:read (catalog items)
        private_api_key: Secret => [shape(PRIVATE_KEY)],
    }
}

gateway_connector::table_params! {
    /// A Klaviyo table: a list or a segment (user and user_id sources), the catalog's items
    /// (item source), or a profile property (user_to_items_reco destination).
    pub struct KlaviyoTable {
        /// user and user_id: the list's id (e.g. Y6nRLr); the table's name when neither it nor segment_id is given
        list_id: Option<String>,
        /// user and user_id: a segment's id, read instead of a list
        segment_id: Option<String>,
        /// user_to_items_reco: the profile property written; the table's name when absent
        property: Option<String>,
    }
}

pub const RESOURCES: &[Resource] = &[Resource::Item, Resource::User, Resource::UserId, Resource::UserToItemsReco];

/// List and segment ids are short alphanumeric strings (`Y6nRLr`).
pub fn id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}
