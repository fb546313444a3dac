//! Segment credentials and tables.

use gateway_connector::{Secret, Shape};

pub const CDN: &str = "https://cdn.segment.com";
/// The peer name of the Public API (`GATEWAY_PROVIDER_SEGMENT_PUBLIC_API_URL`); the CDN is `SEGMENT`.
pub const PUBLIC_API_PEER: &str = "SEGMENT_PUBLIC_API";

pub fn public_api(region: &str) -> &'static str {
    match region {
        "eu" => "https://eu1.api.segmentapis.com",
        _ => "https://api.segmentapis.com",
    }
}

/// Write keys are letters and digits (they end up in the settings URL's path).
pub const WRITE_KEY: Shape = Shape {
    pattern: "^[A-Za-z0-9]{8,64}$",
    check: |s| (8..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()),
    hint: "a source's write key: 8 to 64 letters and digits",
};

pub const REGION: Shape =
    Shape { pattern: "^(us|eu)$", check: |s| matches!(s, "us" | "eu"), hint: "us or eu, the workspace's region" };

gateway_connector::credentials! {
    /// Segment credentials: a source's write key, and a Public API token to confirm it.
    pub struct SegmentCredentials {
        /// the source's write key (not a secret: browsers carry it)
        write_key: String => [shape(WRITE_KEY)],
        /// a Public API token of the workspace (with Source Admin, it confirms the write key is a source's)
        public_api_token: Option<Secret>,
        /// the workspace's region: us or eu
        region: String => [default_value("us".into()), shape(REGION), routes],
    }
}

gateway_connector::table_params! {
    /// A Segment table: a trait or an event the platform sends.
    pub struct SegmentTable {
        /// user_to_items_reco: the user trait written; the table's name when absent
        r#trait: Option<String>,
        /// item_to_items_reco and analytics_report: the event name sent; the table's name when absent
        event: Option<String>,
    }
}
