//! The crate layering of ARCHITECTURE.md, checked from `cargo metadata`: one direction only.
//! The same rules as `../shared/tools/check-layers.py`; change both together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::Value;

const DOMAIN_FORBIDDEN: &[&str] = &["actix", "diesel", "tokio", "reqwest", "opendal", "r2d2", "hyper"];

/// The internal crates a crate may depend on; `None` for the binary, testkit and test crates.
fn allowed(name: &str) -> Option<BTreeSet<&'static str>> {
    let set = |v: &[&'static str]| Some(v.iter().copied().collect());
    match name {
        "gateway-domain" => set(&[]),
        "gateway-store" | "gateway-connector" | "gateway-formats" | "gateway-client" => set(&["gateway-domain"]),
        "gateway-preview" => set(&["gateway-domain", "gateway-connector"]),
        "gateway-engine" => set(&["gateway-domain", "gateway-formats"]),
        "gateway-service" => {
            set(&["gateway-domain", "gateway-store", "gateway-connector", "gateway-preview", "gateway-engine"])
        }
        "gateway-http" => set(&["gateway-domain", "gateway-service", "gateway-connector"]),
        n if n.starts_with("gateway-connector-") => set(&["gateway-domain", "gateway-connector", "gateway-formats"]),
        _ => None,
    }
}

fn broken_rules(meta: &Value) -> Vec<String> {
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = packages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let mut broken = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap();
        let normal: Vec<&str> = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        let internal: BTreeSet<&str> = normal.iter().copied().filter(|d| members.contains(d)).collect();
        if internal.contains("gateway-testkit") {
            broken.push(format!("{name} depends on gateway-testkit outside dev-dependencies"));
        }
        // The binary's package holds the one list of connectors; the test kit shares it so
        // tests run what production runs. Nothing else may depend on it.
        if internal.contains("gateway") && name != "gateway-testkit" {
            broken.push(format!("{name} depends on the binary"));
        }
        if let Some(allowed) = allowed(name) {
            for dep in internal.iter().filter(|d| !allowed.contains(*d) && **d != "gateway-testkit") {
                broken.push(format!("{name} -> {dep} breaks the layer rules"));
            }
        }
        if name == "gateway-domain" {
            for d in normal.iter().filter(|d| DOMAIN_FORBIDDEN.iter().any(|f| d.starts_with(f))) {
                broken.push(format!("gateway-domain depends on {d}: the domain must build without I/O crates"));
            }
        }
        if name != "gateway-engine" && allowed(name).is_some() {
            for d in normal.iter().filter(|d| d.starts_with("datafusion")) {
                broken.push(format!("{name} depends on {d}: DataFusion belongs to gateway-engine alone"));
            }
        }
    }
    broken
}

#[test]
fn crates_depend_in_one_direction_only() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = meta["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"gateway-domain") && names.contains(&"gateway-http"), "{names:?}");
    let broken = broken_rules(&meta);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_check_catches_a_broken_rule() {
    let meta = serde_json::json!({"packages": [
        {"name": "gateway-domain", "dependencies": [{"name": "tokio", "kind": null}]},
        {"name": "gateway-store", "dependencies": [{"name": "gateway-http", "kind": null}, {"name": "gateway-domain", "kind": null}]},
        {"name": "gateway-http", "dependencies": [{"name": "gateway-connector-crm", "kind": null}, {"name": "gateway-store", "kind": null}]},
        {"name": "gateway-service", "dependencies": [{"name": "gateway", "kind": null}]},
        {"name": "gateway", "dependencies": []},
        {"name": "gateway-connector-crm", "dependencies": [{"name": "gateway-testkit", "kind": "dev"}]},
        {"name": "gateway-testkit", "dependencies": []},
        {"name": "gateway-preview", "dependencies": [{"name": "datafusion", "kind": null}, {"name": "gateway-domain", "kind": null}]},
        {"name": "gateway-engine", "dependencies": [{"name": "datafusion", "kind": null}, {"name": "gateway-store", "kind": null}]},
    ]});
    let broken = broken_rules(&meta);
    assert_eq!(broken.len(), 8, "{broken:?}");
}
