//! Connections: one per (organization, kind).

use diesel::prelude::*;
use gateway_domain::{
    Actor, Connection, ConnectionKind, ConnectionStatus, Credentials, JsonObject, OrganizationId, changed_fields,
    now_seconds,
};

use crate::db::{DbConnection, Store, write_transaction};
use crate::journal::{self, Change, Rules};
use crate::rows::ConnectionRow;
use crate::schema::{connection_tables, connections};
use crate::seal::Keyring;
use crate::webhooks;
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
    // A primary-key lookup without `LIMIT ?` (see `tables::get`: it stays prepared).
    connections::table
        .filter(connections::organization.eq(org.as_str()))
        .filter(connections::kind.eq(kind.as_str()))
        .select(ConnectionRow::as_select())
        .load(conn)?
        .into_iter()
        .next()
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
/// the row locked) and returns the credentials and metadata to store, or refuses. New
/// credentials forget the status of the old ones. The audit trail gets the names of the
/// fields that changed; a new connection gets its scheduled re-test.
pub fn put(
    conn: &mut DbConnection,
    keys: &Keyring,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    actor: &Actor,
    decide: impl FnOnce(Option<&Connection>) -> Result<(Credentials, JsonObject), StoreError>,
) -> Result<Connection, StoreError> {
    write_transaction(conn, |conn| {
        lock_row(conn, org, kind, RowLock::Replace)?;
        let stored = get(conn, keys, org, kind)?;
        let (credentials, metadata) = decide(stored.as_ref())?;
        let now = now_seconds();
        let mut fields =
            changed_fields("credentials", stored.as_ref().map(|s| s.credentials.expose()), credentials.expose());
        let same_credentials = fields.is_empty();
        fields.extend(changed_fields("metadata", stored.as_ref().map(|s| &s.metadata), &metadata));
        let keep_status = stored.as_ref().filter(|_| same_credentials);
        let record = Connection {
            organization: org.clone(),
            kind,
            credentials,
            metadata,
            created_timestamp: stored.as_ref().map_or(now, |s| s.created_timestamp),
            modified_timestamp: now,
            status: keep_status.and_then(|s| s.status),
            checked_timestamp: keep_status.and_then(|s| s.checked_timestamp),
        };
        let row = ConnectionRow::from_record(&record, keys)?;
        match &stored {
            Some(stored) => {
                let this = connections::table
                    .filter(connections::organization.eq(org.as_str()))
                    .filter(connections::kind.eq(kind.as_str()));
                diesel::update(this).set(&row).execute(conn)?;
                let forgotten = if same_credentials { None } else { stored.status };
                if !same_credentials {
                    diesel::update(this)
                        .set((connections::status.eq(None::<String>), connections::checked_at.eq(None::<i64>)))
                        .execute(conn)?;
                }
                if !fields.is_empty() {
                    journal::record(conn, rules, org, actor, &Change::ConnectionUpdated { kind, fields, forgotten })?;
                }
            }
            None => {
                diesel::insert_into(connections::table).values(&row).execute(conn)?;
                journal::record(conn, rules, org, actor, &Change::ConnectionCreated { kind, fields })?;
            }
        }
        Ok(record)
    })
}

/// Records what a test of the stored credentials found, if they are still the ones `tested`
/// (a PUT during the test replaced them: its verdict is not theirs, nothing is recorded).
/// When the status changed, the audit trail and the webhooks hear of it in the same
/// transaction. `None` when the connection is gone or its credentials changed.
#[allow(clippy::too_many_arguments, reason = "a repository function: the connection, the rules, and what is recorded")]
pub fn set_status(
    conn: &mut DbConnection,
    keys: &Keyring,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    tested: &Credentials,
    status: ConnectionStatus,
    actor: &Actor,
) -> Result<Option<(Option<ConnectionStatus>, ConnectionStatus)>, StoreError> {
    write_transaction(conn, |conn| {
        if !lock_row(conn, org, kind, RowLock::Replace)? {
            return Ok(None);
        }
        let Some(current) = get(conn, keys, org, kind)?.filter(|c| &c.credentials == tested) else {
            return Ok(None);
        };
        let old = current.status;
        let this = connections::table
            .filter(connections::organization.eq(org.as_str()))
            .filter(connections::kind.eq(kind.as_str()));
        diesel::update(this)
            .set((connections::status.eq(Some(status.as_str())), connections::checked_at.eq(Some(now_seconds()))))
            .execute(conn)?;
        if old != Some(status) {
            journal::record(conn, rules, org, actor, &Change::ConnectionStatus { kind, old, new: status })?;
        }
        Ok(Some((old, status)))
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
    let found: Vec<String> = match lock {
        RowLock::Replace => row.for_no_key_update().load(pg)?,
        RowLock::Delete => row.for_update().load(pg)?,
        RowLock::Table => row.for_key_share().load(pg)?,
    };
    Ok(!found.is_empty())
}

/// Deletes a connection; with `force`, its tables too, in the same transaction.
pub fn delete(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    force: bool,
    actor: &Actor,
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
        journal::record(conn, rules, org, actor, &Change::ConnectionDeleted { kind, tables })?;
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
        actor: &Actor,
        decide: impl FnOnce(Option<&Connection>) -> Result<(Credentials, JsonObject), StoreError>,
    ) -> Result<Connection, StoreError> {
        self.with(|c| put(c, &self.keys, self.rules(), org, kind, actor, decide))
    }

    pub fn delete_connection(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        force: bool,
        actor: &Actor,
    ) -> Result<ConnectionDeletion, StoreError> {
        self.with(|c| delete(c, self.rules(), org, kind, force, actor))
    }

    /// Records a test of the stored credentials (see [`set_status`]): the status before and now.
    pub fn set_connection_status(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        tested: &Credentials,
        status: ConnectionStatus,
        actor: &Actor,
    ) -> Result<Option<(Option<ConnectionStatus>, ConnectionStatus)>, StoreError> {
        self.with(|c| set_status(c, &self.keys, self.rules(), org, kind, tested, status, actor))
    }
}

/// Re-seals up to `batch` connections sealed under another key than the current one; returns
/// how many. Each row is rewritten only if it still holds what was read, so concurrent writers
/// and an interrupted run are both safe: run it until it returns 0.
pub fn reseal_batch(
    conn: &mut DbConnection,
    keys: &Keyring,
    rules: Rules<'_>,
    batch: i64,
) -> Result<usize, StoreError> {
    write_transaction(conn, |conn| {
        let rows: Vec<ConnectionRow> = connections::table
            .filter(connections::credentials_key_id.ne(keys.current_id()))
            .order((connections::organization.asc(), connections::kind.asc()))
            .limit(batch)
            .select(ConnectionRow::as_select())
            .load(conn)?;
        let mut done = 0;
        let actor = Actor::system("rotate-key");
        for row in rows {
            let (key_id, sealed) = row.resealed(keys)?;
            let n = diesel::update(connections::table)
                .filter(connections::organization.eq(&row.organization))
                .filter(connections::kind.eq(&row.kind))
                .filter(connections::credentials_key_id.eq(&row.credentials_key_id))
                .filter(connections::credentials.eq(&row.credentials))
                .set((connections::credentials.eq(sealed), connections::credentials_key_id.eq(key_id)))
                .execute(conn)?;
            if n > 0
                && let (Ok(org), Ok(kind)) = (OrganizationId::parse(&row.organization), row.kind.parse())
            {
                journal::record(conn, rules, &org, &actor, &Change::ConnectionResealed { kind })?;
            }
            done += n;
        }
        Ok(done)
    })
}

/// Key ids that seal some connection but that the keyring cannot open.
pub fn unreadable_key_ids(conn: &mut DbConnection, keys: &Keyring) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<String> = connections::table.select(connections::credentials_key_id).distinct().load(conn)?;
    ids.extend(webhooks::key_ids(conn)?);
    ids.sort();
    ids.dedup();
    let known = keys.ids();
    Ok(ids.into_iter().filter(|id| !known.contains(&id.as_str())).collect())
}

impl Store {
    /// Re-seals every connection (and webhook secret) under the current key, `batch` rows per transaction;
    /// `progress` hears the running total. Resumable: it only touches rows under other keys.
    pub fn rotate_keys(&self, batch: i64, mut progress: impl FnMut(usize)) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.with(|c| reseal_batch(c, &self.keys, self.rules(), batch.max(1)))?
                + self.with(|c| webhooks::reseal_batch(c, &self.keys, batch.max(1)))?;
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
