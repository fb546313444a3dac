//! Sendlane credentials and tables.

use gateway_connector::Secret;
use gateway_domain::Resource;

pub const ORIGIN: &str = "https://api.sendlane.com";

gateway_connector::credentials! {
    /// Sendlane credentials: an API v2 token.
    pub struct SendlaneCredentials {
        /// an API v2 token (Account > API > Sendlane API V2)
        api_token: Secret,
    }
}

gateway_connector::table_params! {
    /// A Sendlane table: one of the account's lists.
    pub struct SendlaneTable {
        /// the list's id; the list named as the table when absent
        list_id: Option<i64>,
    }
}

pub const RESOURCES: &[Resource] = &[Resource::User, Resource::UserId];
