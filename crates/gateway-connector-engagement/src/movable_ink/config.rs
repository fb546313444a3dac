//! Movable Ink credentials and tables.

use gateway_connector::{Secret, Shape};
use gateway_domain::Resource;

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
    check: token_ok,
    hint: "the value Movable Ink issued: letters, digits, - and _",
};

/// A behavioral endpoint URL pasted whole (`https://<collector>/behavioral/<key>`, as partner
/// guides tell users to paste it): its collector and key.
pub fn endpoint_parts(url: &str) -> Option<(&'static str, &str)> {
    let rest = url.trim().strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    let collector = COLLECTORS.iter().find(|c| **c == host)?;
    let key = path.strip_prefix("behavioral/")?.trim_end_matches('/');
    token_ok(key).then_some((collector, key))
}

fn token_ok(s: &str) -> bool {
    (4..=200).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The endpoint's key, or the whole endpoint URL it is part of.
pub const ENDPOINT: Shape = Shape {
    pattern: "^([A-Za-z0-9_-]{4,200}|https://collector\\.(movableink-dmz|micpn|micpn-eu)\\.com/behavioral/[A-Za-z0-9_-]{4,200}/?)$",
    check: |s| token_ok(s) || endpoint_parts(s).is_some(),
    hint: "the endpoint's key, or its whole URL (https://collector.movableink-dmz.com/behavioral/<key>)",
};

gateway_connector::credentials! {
    /// Movable Ink credentials: the access token of the behavioral endpoint it issued.
    pub struct MovableInkCredentials {
        /// the access key id (the Basic auth user name)
        access_key_id: Secret => [shape(TOKEN)],
        /// the access secret (the Basic auth password)
        access_secret: Secret,
        /// the key of the behavioral endpoint URL Movable Ink issued, or the whole URL
        endpoint_key: Secret => [shape(ENDPOINT)],
        /// the collector host of the endpoint URL
        collector: String => [default_value(DEFAULT_COLLECTOR.into()), shape(COLLECTOR), routes],
    }
}

gateway_connector::table_params! {
    /// A Movable Ink table: an event stream recommendations are sent as.
    pub struct MovableInkTable {
        /// the event name recommendations are sent as; the table's name when absent
        event: Option<String>,
    }
}

pub const RESOURCES: &[Resource] = &[Resource::UserToItemsReco, Resource::ItemToItemsReco];
