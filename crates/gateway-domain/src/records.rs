//! Stored records and the response bodies made from them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ConnectionKind, ConnectionStatus, JsonObject, OrganizationId, Resource, TableName, TableStatus};

/// What a secret field is answered as to the roles that may not read it.
pub const MASK: &str = "********";

/// Seconds since the Unix epoch, the contract's timestamp unit.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A connection's credentials. `Debug` shows the field names only, never a value, so a
/// record can be logged or printed in a panic without leaking a secret. Read the values with
/// [`Credentials::expose`], on purpose.
#[derive(Clone, PartialEq, Default)]
pub struct Credentials(JsonObject);

impl Credentials {
    /// Wraps credential fields as sent or stored (field name to value, provider-specific).
    pub fn new(fields: JsonObject) -> Self {
        Credentials(fields)
    }

    /// The values, in clear. Call it where they must be used: sealing, a provider call, the
    /// `backend` role's answer.
    pub fn expose(&self) -> &JsonObject {
        &self.0
    }

    /// The values, in clear, by value; same care as [`Credentials::expose`].
    pub fn into_exposed(self) -> JsonObject {
        self.0
    }

    /// Puts the stored value back wherever a client sent [`MASK`] (it echoed a masked answer):
    /// the mask is never stored. A mask with no stored value to stand for is refused.
    pub fn unmask(mut self, stored: Option<&Credentials>) -> Result<Credentials, crate::Problem> {
        for (k, v) in self.0.iter_mut() {
            if v.as_str() == Some(MASK) {
                match stored.and_then(|s| s.0.get(k)) {
                    Some(real) => *v = real.clone(),
                    None => {
                        return Err(crate::Problem::wrong_field(
                            format!("credentials.{k}"),
                            format!("'{k}' is the mask {MASK} but no value is stored for it: send the real value"),
                        ));
                    }
                }
            }
        }
        Ok(self)
    }

    /// A copy with every field for which `is_secret` holds replaced by [`MASK`].
    pub fn masked<'a>(&self, mut is_secret: impl FnMut(&str) -> bool + 'a) -> JsonObject {
        self.0
            .iter()
            .map(|(k, v)| {
                let v = if is_secret(k) { serde_json::Value::from(MASK) } else { v.clone() };
                (k.clone(), v)
            })
            .collect()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("fields", &self.0.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// A stored connection: at most one per organization and kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// The organization that owns it (from the caller's token; never in a body).
    pub organization: OrganizationId,
    /// The provider; never `LOCAL`, which has no connection.
    pub kind: ConnectionKind,
    /// The credentials, unmasked.
    pub credentials: Credentials,
    /// Settings for real-time connections; `{}` when none were given.
    pub metadata: JsonObject,
    /// When it was first stored, in Unix seconds.
    pub created_timestamp: i64,
    /// When it was last stored (each PUT), in Unix seconds.
    pub modified_timestamp: i64,
    /// What the last test of the stored credentials found; `None` until one ran.
    pub status: Option<ConnectionStatus>,
    /// When that test ran, in Unix seconds.
    pub checked_timestamp: Option<i64>,
}

/// A connection as answered (`GET /connections/{connection}/`, and by `PUT`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// `connection`: the kind. Read-only: a PUT body may echo it but it must match the path.
    pub connection: ConnectionKind,
    /// `credentials`: secret fields are [`MASK`] to every role but `backend`. Sending the
    /// answer back keeps the stored secrets.
    pub credentials: JsonObject,
    /// `metadata`: settings for real-time connections (`{}` when none).
    pub metadata: JsonObject,
    /// `status`: what the last test of the stored credentials found (a test without
    /// credentials in its body, or a scheduled re-test); omitted until one ran. Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConnectionStatus>,
    /// `checked_timestamp`: when that test ran, in Unix seconds; omitted until one ran.
    /// Read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_timestamp: Option<i64>,
    /// `warnings`: what the gateway could not check or wants the caller to know; omitted
    /// when empty. Read-only: ignored in a PUT body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /connections/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsList {
    /// The organization's connections, each as [`ConnectionView`] (secrets masked likewise).
    pub connections: Vec<ConnectionView>,
    /// `warnings` about the list as a whole; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A stored table, keyed by organization, connection and name.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The organization that owns it (from the caller's token; never in a body).
    pub organization: OrganizationId,
    /// The connection kind it lives under (`LOCAL` included).
    pub connection: ConnectionKind,
    /// Its name, unique per organization and connection.
    pub name: TableName,
    /// What the table represents.
    pub resource: Resource,
    /// How the resource reads the table (e.g. `columns_mapping`).
    pub resource_params: JsonObject,
    /// Where and how the connector finds the data (`bucket`, `file_format`, `options`, ...).
    pub connection_table_params: JsonObject,
    /// Free-form data kept with the table (e.g. `description`).
    pub connection_table_metadata: JsonObject,
    /// What the gateway last learnt about the table.
    pub status: TableStatus,
    /// When it was created, in Unix seconds.
    pub created_timestamp: i64,
    /// When it last changed (params or status), in Unix seconds; never goes back.
    pub modified_timestamp: i64,
}

/// A table as answered (get, patch, filter). A client may send it back as a PATCH body:
/// the read-only fields are accepted as echoes (see [`TablePatch::from_json`]).
///
/// [`TablePatch::from_json`]: crate::TablePatch::from_json
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableView {
    /// `name`. Read-only: an echo must match the path.
    pub name: TableName,
    /// `connection`: the kind. Read-only: an echo must match the path.
    pub connection: ConnectionKind,
    /// `resource`: what the table represents.
    pub resource: Resource,
    /// `status`: what the gateway last learnt about the table.
    pub status: TableStatus,
    /// `created_timestamp`: creation, in Unix seconds. Read-only: ignored in a body.
    pub created_timestamp: i64,
    /// `modified_timestamp`: last change (params or status), in Unix seconds. Read-only:
    /// ignored in a body.
    pub modified_timestamp: i64,
    /// `resource_params`: how the resource reads the table (e.g. `columns_mapping`).
    pub resource_params: JsonObject,
    /// `connection_table_params`: where and how the connector finds the data; for `LOCAL`,
    /// `url` is where to upload the file.
    pub connection_table_params: JsonObject,
    /// `connection_table_metadata`: free-form data kept with the table.
    pub connection_table_metadata: JsonObject,
    /// `warnings`: what the gateway could not check or wants the caller to know; omitted
    /// when empty. Read-only: ignored in a body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl From<Table> for TableView {
    fn from(t: Table) -> Self {
        TableView {
            name: t.name,
            connection: t.connection,
            resource: t.resource,
            status: t.status,
            created_timestamp: t.created_timestamp,
            modified_timestamp: t.modified_timestamp,
            resource_params: t.resource_params,
            connection_table_params: t.connection_table_params,
            connection_table_metadata: t.connection_table_metadata,
            warnings: Vec::new(),
        }
    }
}

/// A table in the deprecated per-connection list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSummary {
    /// `name`.
    pub name: TableName,
    /// `resource`: what the table represents.
    pub resource: Resource,
    /// `status`: what the gateway last learnt about the table.
    pub status: TableStatus,
    /// `created_timestamp`: creation, in Unix seconds.
    pub created_timestamp: i64,
    /// `modified_timestamp`: last change (params or status), in Unix seconds.
    pub modified_timestamp: i64,
}

impl From<Table> for TableSummary {
    fn from(t: Table) -> Self {
        TableSummary {
            name: t.name,
            resource: t.resource,
            status: t.status,
            created_timestamp: t.created_timestamp,
            modified_timestamp: t.modified_timestamp,
        }
    }
}

/// `GET /connections/{connection}/tables/` (deprecated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablesList {
    /// Every table of the connection, summarised.
    pub tables: Vec<TableSummary>,
    /// `warnings`, among them the deprecation notice; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /tables/`: one page of the organization's tables, filtered by `connection` and
/// `resource`, in (connection, name) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablesPage {
    /// `has_next`: whether another page holds more tables. Stop when it is `false`.
    pub has_next: bool,
    /// `next_page`: the page after this one (`page + 1`), given even when `has_next` is
    /// `false`.
    pub next_page: u32,
    /// `tables`: at most `amt` tables.
    pub tables: Vec<TableView>,
    /// `next_cursor`: when `has_next`, send it as `cursor` (with the same filters and `amt`)
    /// to get the next page by a seek rather than an offset: as fast on the last page as on
    /// the first. Not in the contract; `next_page` still works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// `warnings`; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One check of a credential test, as answered (`POST /connections/{connection}/test/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStep {
    /// The check, named by the connector (e.g. `token_exchange`, `list_bucket`).
    pub name: String,
    /// `passed`, `failed` or `skipped` (not checked: said why in `message`).
    pub outcome: String,
    /// What was checked and found, for a person; why, when the step failed or was skipped.
    pub message: String,
}

/// A credential test's answer: its steps and warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CredentialsCheck {
    /// The checks, in the order they ran.
    pub steps: Vec<CheckStep>,
    /// `warnings`: what could not be checked (e.g. a step the provider offers no read-only
    /// call for).
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_debug_hides_values() {
        let c = Credentials::new(
            json!({"aws_access_key_id": "AKIA-visible", "aws_secret_access_key": "PasSW0rD"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let dbg = format!("{c:?} {:#?}", c);
        assert!(!dbg.contains("PasSW0rD"), "{dbg}");
        assert!(!dbg.contains("AKIA-visible"), "{dbg}");
        assert!(dbg.contains("aws_secret_access_key"));
        let masked = c.masked(|k| k == "aws_secret_access_key");
        assert_eq!(masked["aws_secret_access_key"], MASK);
        assert_eq!(masked["aws_access_key_id"], "AKIA-visible");

        let sent = Credentials::new(masked);
        assert_eq!(sent.clone().unmask(Some(&c)), Ok(c.clone()));
        let p = sent.unmask(None).unwrap_err();
        assert_eq!(p.field(), Some("credentials.aws_secret_access_key"));
    }
}
