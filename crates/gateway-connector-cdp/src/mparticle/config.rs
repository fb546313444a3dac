//! mParticle credentials.

use gateway_connector::{Secret, Shape};

/// The token endpoint and the Platform API: global for every pod.
pub const SSO: &str = "https://sso.auth.mparticle.com";
pub const PLATFORM: &str = "https://api.mparticle.com";
/// Peer names: `GATEWAY_PROVIDER_M_PARTICLE_SSO_URL` (token) and `GATEWAY_PROVIDER_M_PARTICLE_URL` (API).
pub const SSO_PEER: &str = "M_PARTICLE_SSO";
pub const PLATFORM_PEER: &str = "M_PARTICLE";

pub const POD: Shape = Shape {
    pattern: "^(US1|US2|EU1|AU1)$",
    check: |s| matches!(s, "US1" | "US2" | "EU1" | "AU1"),
    hint: "the workspace's pod: US1, US2, EU1 or AU1",
};

/// The Events API host of a pod.
pub fn events_host(pod: &str) -> String {
    format!("s2s.{}.mparticle.com", pod.to_ascii_lowercase())
}

pub const WORKSPACE: Shape = Shape {
    pattern: "^[0-9]{1,12}$",
    check: |s| (1..=12).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()),
    hint: "a workspace id (digits)",
};

gateway_connector::credentials! {
    /// mParticle credentials: the input feed's server-to-server key, and optionally Platform
    /// API client credentials for a read-only check of the workspace.
    pub struct MParticleCredentials {
        /// the input feed's server-to-server key
        api_key: Secret,
        /// the server-to-server secret
        api_secret: Secret,
        /// the workspace's pod: US1, US2, EU1 or AU1
        pod: String => [default_value("US1".into()), shape(POD), routes],
        /// Platform API client id (optional: allows a read-only check)
        client_id: Option<String>,
        /// Platform API client secret
        client_secret: Option<Secret>,
        /// the workspace whose data plans the check lists
        workspace_id: Option<String> => [shape(WORKSPACE)],
    }
}

gateway_connector::table_params! {
    /// An mParticle table: a user attribute or an event the platform sends.
    pub struct MParticleTable {
        /// user_to_items_reco: the user attribute written; the table's name when absent
        attribute: Option<String>,
        /// item_to_items_reco and analytics_report: the event name sent; the table's name when absent
        event: Option<String>,
    }
}
