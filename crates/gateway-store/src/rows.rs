//! Row types and their mapping to the domain's records.

use diesel::prelude::*;
use gateway_domain::{
    Connection, ConnectionKind, ConnectionStatus, Credentials, JsonObject, OrganizationId, Resource, Table, TableName,
    TableStatus,
};

use crate::StoreError;
use crate::schema::{connection_tables, connections};
use crate::seal::Keyring;

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = connections)]
pub(crate) struct ConnectionRow {
    pub organization: String,
    pub kind: String,
    pub credentials: String,
    pub credentials_key_id: String,
    pub metadata: String,
    pub created_at: i64,
    pub modified_at: i64,
    pub status: Option<String>,
    pub checked_at: Option<i64>,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = connection_tables)]
pub(crate) struct TableRow {
    pub organization: String,
    pub connection: String,
    pub name: String,
    pub resource: String,
    pub resource_params: String,
    pub connection_table_params: String,
    pub connection_table_metadata: String,
    pub status: String,
    pub created_at: i64,
    pub modified_at: i64,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn object(what: &str, text: &str) -> Result<JsonObject, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn text(obj: &JsonObject) -> String {
    serde_json::Value::Object(obj.clone()).to_string()
}

/// What a sealed row is bound to: its organization and kind.
pub(crate) fn row_identity(organization: &str, kind: &str) -> String {
    format!("{organization}\n{kind}")
}

impl ConnectionRow {
    pub fn from_record(c: &Connection, keys: &Keyring) -> Result<Self, StoreError> {
        let aad = row_identity(c.organization.as_str(), c.kind.as_str());
        let (key_id, sealed) = keys.seal(text(c.credentials.expose()).as_bytes(), &aad)?;
        Ok(ConnectionRow {
            organization: c.organization.as_str().to_owned(),
            kind: c.kind.as_str().to_owned(),
            credentials: sealed,
            credentials_key_id: key_id,
            metadata: text(&c.metadata),
            created_at: c.created_timestamp,
            modified_at: c.modified_timestamp,
            status: c.status.map(|s| s.as_str().to_owned()),
            checked_at: c.checked_timestamp,
        })
    }

    fn open_bytes(&self, keys: &Keyring) -> Result<Vec<u8>, StoreError> {
        let aad = row_identity(&self.organization, &self.kind);
        keys.open(&self.credentials_key_id, &self.credentials, &aad).map_err(|e| match e {
            StoreError::Sealing(m) => {
                StoreError::Sealing(format!("{} connection of {}: {m}", self.kind, self.organization))
            }
            other => other,
        })
    }

    /// The credentials sealed anew under the current key: (key id, sealed).
    pub fn resealed(&self, keys: &Keyring) -> Result<(String, String), StoreError> {
        let plain = self.open_bytes(keys)?;
        keys.seal(&plain, &row_identity(&self.organization, &self.kind))
    }

    /// The credentials in clear (never logged, never in an error).
    pub fn open_credentials(&self, keys: &Keyring) -> Result<Credentials, StoreError> {
        let plain = self.open_bytes(keys)?;
        // The parse error of a credentials column could quote it: keep only its position.
        serde_json::from_slice(&plain).map(Credentials::new).map_err(|e| {
            corrupt("credentials", format!("not a JSON object (line {}, column {})", e.line(), e.column()))
        })
    }

    pub fn into_record(self, keys: &Keyring) -> Result<Connection, StoreError> {
        let credentials = self.open_credentials(keys)?;
        Ok(Connection {
            organization: OrganizationId::parse(&self.organization).map_err(|e| corrupt("organization", e))?,
            kind: self.kind.parse::<ConnectionKind>().map_err(|e| corrupt("kind", e))?,
            credentials,
            metadata: object("metadata", &self.metadata)?,
            created_timestamp: self.created_at,
            modified_timestamp: self.modified_at,
            // A status this version does not know reads as none rather than failing the row.
            status: self.status.as_deref().and_then(|s| s.parse::<ConnectionStatus>().ok()),
            checked_timestamp: self.checked_at,
        })
    }
}

impl TableRow {
    pub fn from_record(t: &Table) -> Self {
        TableRow {
            organization: t.organization.as_str().to_owned(),
            connection: t.connection.as_str().to_owned(),
            name: t.name.as_str().to_owned(),
            resource: t.resource.as_str().to_owned(),
            resource_params: text(&t.resource_params),
            connection_table_params: text(&t.connection_table_params),
            connection_table_metadata: text(&t.connection_table_metadata),
            status: t.status.as_str().to_owned(),
            created_at: t.created_timestamp,
            modified_at: t.modified_timestamp,
        }
    }

    pub fn into_record(self) -> Result<Table, StoreError> {
        Ok(Table {
            organization: OrganizationId::parse(&self.organization).map_err(|e| corrupt("organization", e))?,
            connection: self.connection.parse::<ConnectionKind>().map_err(|e| corrupt("connection", e))?,
            name: TableName::parse(&self.name).map_err(|e| corrupt("name", e))?,
            resource: self.resource.parse::<Resource>().map_err(|e| corrupt("resource", e))?,
            resource_params: object("resource_params", &self.resource_params)?,
            connection_table_params: object("connection_table_params", &self.connection_table_params)?,
            connection_table_metadata: object("connection_table_metadata", &self.connection_table_metadata)?,
            status: self.status.parse::<TableStatus>().map_err(|e| corrupt("status", e))?,
            created_timestamp: self.created_at,
            modified_timestamp: self.modified_at,
        })
    }
}
