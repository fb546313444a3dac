//! Sailthru credentials and tables.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, ParamSpec, ParamType, TableSpec};
use gateway_domain::{ConnectionKind, Resource};

pub const ORIGIN: &str = "https://api.sailthru.com";

pub fn credential_spec() -> CredentialSpec {
    CredentialSpec::new(
        ConnectionKind::Sailthru,
        vec![
            FieldSpec::required("api_key", FieldType::String, "the API key (Settings > Setup > API & Postbacks)")
                .secret(),
            FieldSpec::required("api_secret", FieldType::String, "the shared secret requests are signed with").secret(),
        ],
    )
}

pub fn table_spec() -> TableSpec {
    TableSpec::new(
        vec![ParamSpec::new("list", ParamType::String, "the list's name; the table's name when absent")],
        &[Resource::UserId],
    )
}
