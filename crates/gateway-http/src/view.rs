//! Records as the caller may see them: secrets masked for every role but backend.

use gateway_connector::{Registry, looks_secret};
use gateway_domain::{Connection, ConnectionView, Role};

/// Whether a credential field of this kind is secret: by the connector's spec when one is
/// registered, else by its name.
pub fn is_secret(registry: &Registry, conn: &Connection, field: &str) -> bool {
    match registry.get(conn.kind) {
        Some(c) => c.credential_spec().is_secret(field),
        None => looks_secret(field),
    }
}

pub fn connection(registry: &Registry, role: Role, conn: Connection) -> ConnectionView {
    let credentials = if role.sees_secrets() {
        conn.credentials.expose().clone()
    } else {
        conn.credentials.masked(|f| is_secret(registry, &conn, f))
    };
    ConnectionView { connection: conn.kind, credentials, metadata: conn.metadata, warnings: Vec::new() }
}
