//! Tables: one per (organization, connection, name).

use diesel::prelude::*;
use gateway_domain::{
    ConnectionKind, ErrorName, OrganizationId, Paging, Problem, Resource, Table, TableName, TableStatus, now_seconds,
};

use crate::StoreError;
use crate::db::{DbConnection, Store, write_transaction};
use crate::rows::TableRow;
use crate::schema::connection_tables as t;

/// `GET /tables/` filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableFilter {
    pub connection: Option<ConnectionKind>,
    pub resource: Option<Resource>,
}

pub fn get(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
) -> Result<Option<Table>, StoreError> {
    t::table
        .filter(t::organization.eq(org.as_str()))
        .filter(t::connection.eq(kind.as_str()))
        .filter(t::name.eq(name.as_str()))
        .select(TableRow::as_select())
        .first(conn)
        .optional()?
        .map(TableRow::into_record)
        .transpose()
}

/// A connection's tables by name.
pub fn list(conn: &mut DbConnection, org: &OrganizationId, kind: ConnectionKind) -> Result<Vec<Table>, StoreError> {
    t::table
        .filter(t::organization.eq(org.as_str()))
        .filter(t::connection.eq(kind.as_str()))
        .order(t::name.asc())
        .select(TableRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TableRow::into_record)
        .collect()
}

/// One page of the organization's tables in (connection, name) order, and whether more follow.
pub fn filter(
    conn: &mut DbConnection,
    org: &OrganizationId,
    filter: TableFilter,
    paging: Paging,
) -> Result<(Vec<Table>, bool), StoreError> {
    let mut q = t::table.filter(t::organization.eq(org.as_str())).into_boxed();
    if let Some(k) = filter.connection {
        q = q.filter(t::connection.eq(k.as_str()));
    }
    if let Some(r) = filter.resource {
        q = q.filter(t::resource.eq(r.as_str()));
    }
    let amt = i64::from(paging.amt());
    let mut rows: Vec<TableRow> = q
        .order((t::connection.asc(), t::name.asc()))
        .limit(amt + 1)
        .offset(paging.offset())
        .select(TableRow::as_select())
        .load(conn)?;
    let has_next = rows.len() as i64 > amt;
    rows.truncate(paging.amt() as usize);
    let tables = rows.into_iter().map(TableRow::into_record).collect::<Result<_, _>>()?;
    Ok((tables, has_next))
}

/// Locks a table's row on PostgreSQL (`FOR NO KEY UPDATE`) so that two writes of one table
/// run one after the other; writes of other tables are not held up.
fn lock_row(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
) -> Result<(), StoreError> {
    if let DbConnection::Postgresql(pg) = conn {
        t::table
            .filter(t::organization.eq(org.as_str()))
            .filter(t::connection.eq(kind.as_str()))
            .filter(t::name.eq(name.as_str()))
            .select(t::name)
            .for_no_key_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// Creates or updates a table; a table on any kind but LOCAL needs its connection
/// (CONNECTION_NOT_FOUND otherwise, checked in the same transaction). `decide` sees the stored one (inside the transaction, the row
/// locked) and returns the table to store, or refuses. `created_timestamp` is kept from the
/// stored row; `modified_timestamp` is set when anything changed. A concurrent creation of
/// the same table makes this retry once as an update.
pub fn upsert(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    mut decide: impl FnMut(Option<&Table>) -> Result<Table, StoreError>,
) -> Result<Table, StoreError> {
    let mut attempt = |conn: &mut DbConnection| {
        write_transaction(conn, |conn| {
            // Connection first, then table: the same order as deleting a connection.
            if kind.has_connection() {
                let lock = crate::connections::RowLock::Table;
                if !crate::connections::lock_row(conn, org, kind, lock)? {
                    return Err(StoreError::Rejected(
                        Problem::new(
                            ErrorName::ConnectionNotFound,
                            format!(
                                "no {kind} connection is stored for this organization: PUT /connections/{kind}/ first"
                            ),
                        )
                        .with("connection", kind.as_str()),
                    ));
                }
            }
            lock_row(conn, org, kind, name)?;
            let stored = get(conn, org, kind, name)?;
            let mut table = decide(stored.as_ref())?;
            table.organization = org.clone();
            table.connection = kind;
            table.name = name.clone();
            let now = now_seconds();
            match &stored {
                Some(s) => {
                    table.created_timestamp = s.created_timestamp;
                    table.modified_timestamp = s.modified_timestamp;
                    if &table == s {
                        return Ok(table);
                    }
                    table.modified_timestamp = now.max(s.modified_timestamp);
                    diesel::update(t::table)
                        .filter(t::organization.eq(org.as_str()))
                        .filter(t::connection.eq(kind.as_str()))
                        .filter(t::name.eq(name.as_str()))
                        .set(&TableRow::from_record(&table))
                        .execute(conn)?;
                }
                None => {
                    table.created_timestamp = now;
                    table.modified_timestamp = now;
                    diesel::insert_into(t::table).values(&TableRow::from_record(&table)).execute(conn)?;
                }
            }
            Ok(table)
        })
    };
    match attempt(conn) {
        Err(e) if e.is_unique_violation() => attempt(conn),
        other => other,
    }
}

/// Records a table's status; `modified_timestamp` moves only when it changes. `None` when
/// the table is gone.
pub fn set_status(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    status: TableStatus,
) -> Result<Option<Table>, StoreError> {
    write_transaction(conn, |conn| {
        // The row locked like a PATCH's, so neither overwrites the other's status or moves
        // `modified_timestamp` back.
        lock_row(conn, org, kind, name)?;
        let Some(mut table) = get(conn, org, kind, name)? else { return Ok(None) };
        if table.status != status {
            table.status = status;
            table.modified_timestamp = now_seconds().max(table.modified_timestamp);
            diesel::update(t::table)
                .filter(t::organization.eq(org.as_str()))
                .filter(t::connection.eq(kind.as_str()))
                .filter(t::name.eq(name.as_str()))
                .set((t::status.eq(status.as_str()), t::modified_at.eq(table.modified_timestamp)))
                .execute(conn)?;
        }
        Ok(Some(table))
    })
}

/// Deletes a table; false when there was none.
pub fn delete(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
) -> Result<bool, StoreError> {
    let n = diesel::delete(t::table)
        .filter(t::organization.eq(org.as_str()))
        .filter(t::connection.eq(kind.as_str()))
        .filter(t::name.eq(name.as_str()))
        .execute(conn)?;
    Ok(n > 0)
}

impl Store {
    pub fn get_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<Option<Table>, StoreError> {
        self.with(|c| get(c, org, kind, name))
    }

    pub fn list_tables(&self, org: &OrganizationId, kind: ConnectionKind) -> Result<Vec<Table>, StoreError> {
        self.with(|c| list(c, org, kind))
    }

    pub fn filter_tables(
        &self,
        org: &OrganizationId,
        f: TableFilter,
        paging: Paging,
    ) -> Result<(Vec<Table>, bool), StoreError> {
        self.with(|c| filter(c, org, f, paging))
    }

    pub fn upsert_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        decide: impl FnMut(Option<&Table>) -> Result<Table, StoreError>,
    ) -> Result<Table, StoreError> {
        self.with(|c| upsert(c, org, kind, name, decide))
    }

    pub fn set_table_status(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        status: TableStatus,
    ) -> Result<Option<Table>, StoreError> {
        self.with(|c| set_status(c, org, kind, name, status))
    }

    pub fn delete_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<bool, StoreError> {
        self.with(|c| delete(c, org, kind, name))
    }
}
