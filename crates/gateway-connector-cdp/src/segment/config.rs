//! Segment credentials and tables.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, Shape};
use gateway_domain::ConnectionKind;

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

pub fn credential_spec() -> CredentialSpec {
    CredentialSpec::new(
        ConnectionKind::Segment,
        vec![
            FieldSpec::required(
                "write_key",
                FieldType::String,
                "the source's write key (not a secret: browsers carry it)",
            )
            .shape(WRITE_KEY),
            FieldSpec::optional(
                "public_api_token",
                FieldType::String,
                "a Public API token of the workspace, to check it too",
            )
            .secret(),
            FieldSpec::optional("region", FieldType::String, "the workspace's region: us or eu")
                .default_value("us".into())
                .shape(REGION)
                .routes(),
        ],
    )
}
