//! Sendlane credentials and tables.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, ParamSpec, ParamType, TableSpec};
use gateway_domain::{ConnectionKind, Resource};

pub const ORIGIN: &str = "https://api.sendlane.com";

pub fn credential_spec() -> CredentialSpec {
    CredentialSpec::new(
        ConnectionKind::Sendlane,
        vec![
            FieldSpec::required("api_token", FieldType::String, "an API v2 token (Account > API > Sendlane API V2)")
                .secret(),
        ],
    )
}

pub fn table_spec() -> TableSpec {
    TableSpec::new(
        vec![ParamSpec::new("list_id", ParamType::Integer, "the list's id; the list named as the table when absent")],
        &[Resource::User, Resource::UserId],
    )
}
