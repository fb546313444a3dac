//! Connections: one per (organization, kind).

use diesel::prelude::*;
use gateway_domain::{Connection, ConnectionKind, Credentials, JsonObject, OrganizationId, now_seconds};

use crate::db::{DbConnection, Store, write_transaction};
use crate::rows::ConnectionRow;
use crate::schema::{connection_tables, connections};
use crate::{ConnectionDeletion, StoreError};

pub fn list(conn: &mut DbConnection, org: &OrganizationId) -> Result<Vec<Connection>, StoreError> {
    connections::table
        .filter(connections::organization.eq(org.as_str()))
        .order(connections::kind.asc())
        .select(ConnectionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ConnectionRow::into_record)
        .collect()
}

pub fn get(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
) -> Result<Option<Connection>, StoreError> {
    connections::table
        .filter(connections::organization.eq(org.as_str()))
        .filter(connections::kind.eq(kind.as_str()))
        .select(ConnectionRow::as_select())
        .first(conn)
        .optional()?
        .map(ConnectionRow::into_record)
        .transpose()
}

/// Creates or replaces a connection. `decide` sees the stored one (inside the transaction,
/// the row locked) and returns the credentials and metadata to store, or refuses.
pub fn put(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    decide: impl FnOnce(Option<&Connection>) -> Result<(Credentials, JsonObject), StoreError>,
) -> Result<Connection, StoreError> {
    write_transaction(conn, |conn| {
        lock_row(conn, org, kind)?;
        let stored = get(conn, org, kind)?;
        let (credentials, metadata) = decide(stored.as_ref())?;
        let now = now_seconds();
        let record = Connection {
            organization: org.clone(),
            kind,
            credentials,
            metadata,
            created_timestamp: stored.as_ref().map_or(now, |s| s.created_timestamp),
            modified_timestamp: now,
        };
        let row = ConnectionRow::from_record(&record);
        if stored.is_some() {
            diesel::update(connections::table)
                .filter(connections::organization.eq(org.as_str()))
                .filter(connections::kind.eq(kind.as_str()))
                .set(&row)
                .execute(conn)?;
        } else {
            diesel::insert_into(connections::table).values(&row).execute(conn)?;
        }
        Ok(record)
    })
}

/// Takes the row's write lock on PostgreSQL (a no-op update) so that concurrent
/// read-modify-writes of one connection run one after the other. SQLite's `BEGIN IMMEDIATE`
/// already serialises writers.
pub(crate) fn lock_row(conn: &mut DbConnection, org: &OrganizationId, kind: ConnectionKind) -> Result<(), StoreError> {
    if matches!(conn, DbConnection::Postgresql(_)) {
        diesel::update(connections::table)
            .filter(connections::organization.eq(org.as_str()))
            .filter(connections::kind.eq(kind.as_str()))
            .set(connections::kind.eq(connections::kind))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes a connection; with `force`, its tables too, in the same transaction.
pub fn delete(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    force: bool,
) -> Result<ConnectionDeletion, StoreError> {
    write_transaction(conn, |conn| {
        lock_row(conn, org, kind)?;
        if get(conn, org, kind)?.is_none() {
            return Ok(ConnectionDeletion::NotFound);
        }
        let of_this = connection_tables::table
            .filter(connection_tables::organization.eq(org.as_str()))
            .filter(connection_tables::connection.eq(kind.as_str()));
        let count: i64 = of_this.count().get_result(conn)?;
        let count = u64::try_from(count).unwrap_or(0);
        if count > 0 && !force {
            return Ok(ConnectionDeletion::HasTables(count));
        }
        let tables = diesel::delete(of_this).execute(conn)?;
        diesel::delete(connections::table)
            .filter(connections::organization.eq(org.as_str()))
            .filter(connections::kind.eq(kind.as_str()))
            .execute(conn)?;
        Ok(ConnectionDeletion::Deleted { tables: tables as u64 })
    })
}

impl Store {
    pub fn list_connections(&self, org: &OrganizationId) -> Result<Vec<Connection>, StoreError> {
        self.with(|c| list(c, org))
    }

    pub fn get_connection(&self, org: &OrganizationId, kind: ConnectionKind) -> Result<Option<Connection>, StoreError> {
        self.with(|c| get(c, org, kind))
    }

    pub fn put_connection(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        decide: impl FnOnce(Option<&Connection>) -> Result<(Credentials, JsonObject), StoreError>,
    ) -> Result<Connection, StoreError> {
        self.with(|c| put(c, org, kind, decide))
    }

    pub fn delete_connection(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        force: bool,
    ) -> Result<ConnectionDeletion, StoreError> {
        self.with(|c| delete(c, org, kind, force))
    }
}
