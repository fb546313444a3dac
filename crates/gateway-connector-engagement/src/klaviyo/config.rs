//! Klaviyo credentials, tables and the one revision every call is pinned to.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, ParamSpec, ParamType, Shape, TableSpec};
use gateway_domain::{ConnectionKind, Resource};

pub const ORIGIN: &str = "https://a.klaviyo.com";

/// The API revision every request is pinned to (the `revision` header): the one the gateway
/// was written and tested against. Change it here only, with the mock's answers.
pub const REVISION: &str = "2024-10-15";

/// "Private keys will have the prefix `pk_` followed by a longer alphanumeric string."
pub const PRIVATE_KEY: Shape = Shape {
    pattern: "^pk_[A-Za-z0-9]{8,}$",
    check: |s| {
        s.strip_prefix("pk_").is_some_and(|rest| rest.len() >= 8 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    },
    hint: "a private API key: pk_ followed by letters and digits (a public key or site id is refused)",
};

pub fn credential_spec() -> CredentialSpec {
    CredentialSpec::new(
        ConnectionKind::Klaviyo,
        vec![
            FieldSpec::required(
                "private_api_key",
                FieldType::String,
                "a private API key (pk_...) with accounts:read, lists:read and profiles:read",
            )
            .secret()
            .shape(PRIVATE_KEY),
        ],
    )
}

pub fn table_spec() -> TableSpec {
    TableSpec::new(
        vec![
            ParamSpec::new(
                "list_id",
                ParamType::String,
                "user and user_id: the list's id (e.g. Y6nRLr); the table's name when absent",
            ),
            ParamSpec::new(
                "property",
                ParamType::String,
                "user_to_items_reco: the profile property written; the table's name when absent",
            ),
        ],
        &[Resource::User, Resource::UserId, Resource::UserToItemsReco],
    )
}

/// List ids are short alphanumeric strings (`Y6nRLr`).
pub fn list_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}
