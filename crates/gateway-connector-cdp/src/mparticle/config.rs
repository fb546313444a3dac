//! mParticle credentials.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, Shape};
use gateway_domain::ConnectionKind;

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

pub fn credential_spec() -> CredentialSpec {
    CredentialSpec::new(
        ConnectionKind::MParticle,
        vec![
            FieldSpec::required("api_key", FieldType::String, "the input feed's server-to-server key").secret(),
            FieldSpec::required("api_secret", FieldType::String, "the server-to-server secret").secret(),
            FieldSpec::optional("pod", FieldType::String, "the workspace's pod: US1, US2, EU1 or AU1")
                .default_value("US1".into())
                .shape(POD)
                .routes(),
            FieldSpec::optional(
                "client_id",
                FieldType::String,
                "Platform API client id (optional: allows a read-only check)",
            ),
            FieldSpec::optional("client_secret", FieldType::String, "Platform API client secret").secret(),
            FieldSpec::optional("workspace_id", FieldType::String, "the workspace whose data plans the check lists")
                .shape(WORKSPACE),
        ],
    )
}
