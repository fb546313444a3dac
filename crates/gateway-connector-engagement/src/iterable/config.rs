//! Iterable credentials (shared by both kinds) and tables.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, ParamSpec, ParamType, Shape, TableSpec};
use gateway_domain::{ConnectionKind, Resource};

/// A key works only against its own data centre's host
/// (<https://support.iterable.com/hc/en-us/articles/17572750887444>).
pub fn origin(region: &str) -> &'static str {
    match region {
        "eu" => "https://api.eu.iterable.com",
        _ => "https://api.iterable.com",
    }
}

pub const REGION: Shape = Shape {
    pattern: "^(us|eu)$",
    check: |s| matches!(s, "us" | "eu"),
    hint: "us (api.iterable.com) or eu (api.eu.iterable.com), the project's data centre",
};

pub fn credential_spec(kind: ConnectionKind) -> CredentialSpec {
    CredentialSpec::new(
        kind,
        vec![
            FieldSpec::required("api_key", FieldType::String, "a server-side (standard) API key of the project")
                .secret(),
            FieldSpec::optional("region", FieldType::String, "the project's data centre: us or eu")
                .default_value("us".into())
                .shape(REGION)
                .routes(),
        ],
    )
}

pub fn list_table_spec() -> TableSpec {
    TableSpec::new(
        vec![
            ParamSpec::new(
                "list_id",
                ParamType::Integer,
                "user_id: the list's id; the list named as the table when absent",
            ),
            ParamSpec::new(
                "field",
                ParamType::String,
                "user_to_items_reco: the user field written; the table's name when absent",
            ),
        ],
        &[Resource::UserId, Resource::UserToItemsReco],
    )
}

pub fn catalog_table_spec() -> TableSpec {
    TableSpec::new(
        vec![ParamSpec::new("catalog", ParamType::String, "the catalog; the table's name when absent")],
        &[Resource::Item],
    )
}

/// Catalog names: "Alphanumeric, dashes, case insensitive, 255 characters max" (the API spec's
/// `catalogName` parameter).
pub fn catalog_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}
