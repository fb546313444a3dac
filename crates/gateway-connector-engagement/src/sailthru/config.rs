//! Sailthru credentials and tables.

use gateway_connector::Secret;
use gateway_domain::Resource;

pub const ORIGIN: &str = "https://api.sailthru.com";

gateway_connector::credentials! {
    /// Sailthru credentials: the API key and the secret requests are signed with.
    pub struct SailthruCredentials {
        /// the API key (Settings > Setup > API & Postbacks)
        api_key: Secret,
        /// the shared secret requests are signed with
        api_secret: Secret,
    }
}

gateway_connector::table_params! {
    /// A Sailthru table: one of the account's lists.
    pub struct SailthruTable {
        /// the list's name; the table's name when absent
        list: Option<String>,
    }
}

pub const RESOURCES: &[Resource] = &[Resource::UserId];
