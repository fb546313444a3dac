//! Stored records and the response bodies made from them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ConnectionKind, JsonObject, OrganizationId, Resource, TableName, TableStatus};

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
    pub fn new(fields: JsonObject) -> Self {
        Credentials(fields)
    }

    /// The values, in clear. Call it where they must be used: sealing, a provider call, the
    /// `backend` role's answer.
    pub fn expose(&self) -> &JsonObject {
        &self.0
    }

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

/// A stored connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub organization: OrganizationId,
    pub kind: ConnectionKind,
    pub credentials: Credentials,
    pub metadata: JsonObject,
    pub created_timestamp: i64,
    pub modified_timestamp: i64,
}

/// A connection as answered (`GET /connections/{connection}/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub connection: ConnectionKind,
    pub credentials: JsonObject,
    pub metadata: JsonObject,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /connections/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsList {
    pub connections: Vec<ConnectionView>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A stored table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub organization: OrganizationId,
    pub connection: ConnectionKind,
    pub name: TableName,
    pub resource: Resource,
    pub resource_params: JsonObject,
    pub connection_table_params: JsonObject,
    pub connection_table_metadata: JsonObject,
    pub status: TableStatus,
    pub created_timestamp: i64,
    pub modified_timestamp: i64,
}

/// A table as answered (get, patch, filter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableView {
    pub name: TableName,
    pub connection: ConnectionKind,
    pub resource: Resource,
    pub status: TableStatus,
    pub created_timestamp: i64,
    pub modified_timestamp: i64,
    pub resource_params: JsonObject,
    pub connection_table_params: JsonObject,
    pub connection_table_metadata: JsonObject,
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
    pub name: TableName,
    pub resource: Resource,
    pub status: TableStatus,
    pub created_timestamp: i64,
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
    pub tables: Vec<TableSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /tables/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TablesPage {
    pub has_next: bool,
    pub next_page: u32,
    pub tables: Vec<TableView>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One check of a credential test, as answered (`POST /connections/{connection}/test/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStep {
    pub name: String,
    /// `passed`, `failed` or `skipped` (not checked: said why in `message`).
    pub outcome: String,
    pub message: String,
}

/// A credential test's answer: its steps and warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CredentialsCheck {
    pub steps: Vec<CheckStep>,
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
