//! Movable Ink credentials and tables.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, ParamSpec, ParamType, Shape, TableSpec};
use gateway_domain::{ConnectionKind, Resource};

/// The collector of endpoints issued without one named.
pub const DEFAULT_COLLECTOR: &str = "collector.movableink-dmz.com";
/// The documented collectors (Movable Ink's default, and its US and EU hosts).
pub const COLLECTORS: &[&str] = &["collector.movableink-dmz.com", "collector.micpn.com", "collector.micpn-eu.com"];

pub const COLLECTOR: Shape = Shape {
    pattern: "^collector\\.(movableink-dmz|micpn|micpn-eu)\\.com$",
    check: |s| COLLECTORS.contains(&s),
    hint: "one of Movable Ink's collectors: collector.movableink-dmz.com, collector.micpn.com or collector.micpn-eu.com",
};

/// Keys and ids Movable Ink issues: letters, digits, `-` and `_` (a path segment and a Basic
/// auth user name must not carry `/`, `:` or `@`).
pub const TOKEN: Shape = Shape {
    pattern: "^[A-Za-z0-9_-]{4,200}$",
    check: |s| (4..=200).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
    hint: "the value Movable Ink issued: letters, digits, - and _",
};

pub fn credential_spec() -> CredentialSpec {
    CredentialSpec::new(
        ConnectionKind::MovableInk,
        vec![
            FieldSpec::required("access_key_id", FieldType::String, "the access key id (the Basic auth user name)")
                .secret()
                .shape(TOKEN),
            FieldSpec::required("access_secret", FieldType::String, "the access secret (the Basic auth password)")
                .secret(),
            FieldSpec::required(
                "endpoint_key",
                FieldType::String,
                "the key of the behavioral endpoint URL Movable Ink issued",
            )
            .secret()
            .shape(TOKEN),
            FieldSpec::optional("collector", FieldType::String, "the collector host of the endpoint URL")
                .default_value(DEFAULT_COLLECTOR.into())
                .shape(COLLECTOR)
                .routes(),
        ],
    )
}

pub fn table_spec() -> TableSpec {
    TableSpec::new(
        vec![ParamSpec::new(
            "event",
            ParamType::String,
            "the event name recommendations are sent as; the table's name when absent",
        )],
        &[Resource::UserToItemsReco, Resource::ItemToItemsReco],
    )
}
