//! Connections: one per (organization, kind).

use diesel::prelude::*;
use gateway_domain::{Connection, ConnectionKind, Credentials, JsonObject, OrganizationId, now_seconds};

use crate::db::{DbConnection, Store, write_transaction};
use crate::rows::ConnectionRow;
use crate::schema::{connection_tables, connections};
use crate::seal::Keyring;
use crate::{ConnectionDeletion, StoreError};

pub fn list(conn: &mut DbConnection, keys: &Keyring, org: &OrganizationId) -> Result<Vec<Connection>, StoreError> {
    connections::table
        .filter(connections::organization.eq(org.as_str()))
        .order(connections::kind.asc())
        .select(ConnectionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| r.into_record(keys))
        .collect()
}

pub fn get(
    conn: &mut DbConnection,
    keys: &Keyring,
    org: &OrganizationId,
    kind: ConnectionKind,
) -> Result<Option<Connection>, StoreError> {
    connections::table
        .filter(connections::organization.eq(org.as_str()))
        .filter(connections::kind.eq(kind.as_str()))
        .select(ConnectionRow::as_select())
        .first(conn)
        .optional()?
        .map(|r| r.into_record(keys))
        .transpose()
}

/// Whether the organization has a connection of this kind (without opening its credentials).
pub fn exists(conn: &mut DbConnection, org: &OrganizationId, kind: ConnectionKind) -> Result<bool, StoreError> {
    let n: i64 = connections::table
        .filter(connections::organization.eq(org.as_str()))
        .filter(connections::kind.eq(kind.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Creates or replaces a connection. `decide` sees the stored one (inside the transaction,
/// the row locked) and returns the credentials and metadata to store, or refuses.
pub fn put(
    conn: &mut DbConnection,
    keys: &Keyring,
    org: &OrganizationId,
    kind: ConnectionKind,
    decide: impl FnOnce(Option<&Connection>) -> Result<(Credentials, JsonObject), StoreError>,
) -> Result<Connection, StoreError> {
    write_transaction(conn, |conn| {
        lock_row(conn, org, kind, RowLock::Replace)?;
        let stored = get(conn, keys, org, kind)?;
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
        let row = ConnectionRow::from_record(&record, keys)?;
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

/// How a transaction holds a connection's row on PostgreSQL, where writers run at once
/// (SQLite's `BEGIN IMMEDIATE` already serialises them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowLock {
    /// Replacing the connection (`FOR NO KEY UPDATE`): PUTs of one connection run one after
    /// the other; writes of its tables go on meanwhile.
    Replace,
    /// Deleting it (`FOR UPDATE`): waits for the writes of its tables in flight, and theirs
    /// wait for it (then find no connection).
    Delete,
    /// Writing one of its tables (`FOR KEY SHARE`, what a foreign key takes): any number at
    /// once, all keeping a delete out until they commit.
    Table,
}

/// Locks the connection's row as `lock` says, with a `SELECT ... FOR ...` (no write, so no dead
/// row left behind); answers whether the connection exists.
pub(crate) fn lock_row(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    lock: RowLock,
) -> Result<bool, StoreError> {
    let DbConnection::Postgresql(pg) = conn else {
        return exists(conn, org, kind);
    };
    let row = connections::table
        .filter(connections::organization.eq(org.as_str()))
        .filter(connections::kind.eq(kind.as_str()))
        .select(connections::kind);
    let found: Option<String> = match lock {
        RowLock::Replace => row.for_no_key_update().first(pg).optional()?,
        RowLock::Delete => row.for_update().first(pg).optional()?,
        RowLock::Table => row.for_key_share().first(pg).optional()?,
    };
    Ok(found.is_some())
}

/// Deletes a connection; with `force`, its tables too, in the same transaction.
pub fn delete(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    force: bool,
) -> Result<ConnectionDeletion, StoreError> {
    write_transaction(conn, |conn| {
        if !lock_row(conn, org, kind, RowLock::Delete)? {
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
        self.with(|c| list(c, &self.keys, org))
    }

    pub fn get_connection(&self, org: &OrganizationId, kind: ConnectionKind) -> Result<Option<Connection>, StoreError> {
        self.with(|c| get(c, &self.keys, org, kind))
    }

    pub fn put_connection(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        decide: impl FnOnce(Option<&Connection>) -> Result<(Credentials, JsonObject), StoreError>,
    ) -> Result<Connection, StoreError> {
        self.with(|c| put(c, &self.keys, org, kind, decide))
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

/// Re-seals up to `batch` connections sealed under another key than the current one; returns
/// how many. Each row is rewritten only if it still holds what was read, so concurrent writers
/// and an interrupted run are both safe: run it until it returns 0.
pub fn reseal_batch(conn: &mut DbConnection, keys: &Keyring, batch: i64) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let rows: Vec<ConnectionRow> = connections::table
            .filter(connections::credentials_key_id.ne(keys.current_id()))
            .order((connections::organization.asc(), connections::kind.asc()))
            .limit(batch)
            .select(ConnectionRow::as_select())
            .load(conn)?;
        let mut done = 0;
        for row in rows {
            let (key_id, sealed) = row.resealed(keys)?;
            done += diesel::update(connections::table)
                .filter(connections::organization.eq(&row.organization))
                .filter(connections::kind.eq(&row.kind))
                .filter(connections::credentials_key_id.eq(&row.credentials_key_id))
                .filter(connections::credentials.eq(&row.credentials))
                .set((connections::credentials.eq(sealed), connections::credentials_key_id.eq(key_id)))
                .execute(conn)?;
        }
        Ok(done)
    })
}

/// Key ids that seal some connection but that the keyring cannot open.
pub fn unreadable_key_ids(conn: &mut DbConnection, keys: &Keyring) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = connections::table.select(connections::credentials_key_id).distinct().load(conn)?;
    let known = keys.ids();
    Ok(ids.into_iter().filter(|id| !known.contains(&id.as_str())).collect())
}

impl Store {
    /// Re-seals every connection under the current key, `batch` rows per transaction;
    /// `progress` hears the running total. Resumable: it only touches rows under other keys.
    pub fn rotate_keys(&self, batch: i64, mut progress: impl FnMut(usize)) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.with(|c| reseal_batch(c, &self.keys, batch.max(1)))?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
            progress(total);
        }
    }

    /// Fails when some stored credentials are sealed under a key that is not configured, so
    /// that a wrong key stops start-up instead of failing requests later.
    pub fn check_keys(&self) -> Result<(), StoreError> {
        let missing = self.with(|c| unreadable_key_ids(c, &self.keys))?;
        if missing.is_empty() {
            return Ok(());
        }
        Err(StoreError::Sealing(format!(
            "stored credentials are sealed under key{} {} but the configured key{} {}: set GATEWAY_ENCRYPTION_KEY to the right key, or list the old one in GATEWAY_ENCRYPTION_OLD_KEYS",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if self.keys.ids().len() == 1 { " is" } else { "s are" },
            self.keys.ids().join(", ")
        )))
    }
}
