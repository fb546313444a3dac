//! Tables: one per (organization, connection, name).

use diesel::prelude::*;
use gateway_domain::{
    Actor, ConnectionKind, ErrorName, OrganizationId, Paging, Problem, Resource, Table, TableName, TableStatus,
    changed_fields, now_seconds,
};

use crate::StoreError;
use crate::db::{DbConnection, Store, write_transaction};
use crate::journal::{self, Change, Rules};
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
    // A primary-key lookup, without `LIMIT ?`: SQLite (built with STAT4) marks a statement
    // whose LIMIT is a bound parameter for re-preparation at every new binding, which cost a
    // full parse per request (docs/benchmarks.md); a statement without one stays prepared.
    t::table
        .filter(t::organization.eq(org.as_str()))
        .filter(t::connection.eq(kind.as_str()))
        .filter(t::name.eq(name.as_str()))
        .select(TableRow::as_select())
        .load(conn)?
        .into_iter()
        .next()
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
    page_of(conn, org, filter, Start::Offset(paging.offset()), paging.amt())
}

/// The `amt` tables after (`connection`, `name`) in (connection, name) order, and whether more
/// follow: a seek on the primary key (or the resource index), as fast far down the list as at
/// its top, where an offset walks every row it skips.
pub fn filter_after(
    conn: &mut DbConnection,
    org: &OrganizationId,
    filter: TableFilter,
    after: (ConnectionKind, &TableName),
    amt: u32,
) -> Result<(Vec<Table>, bool), StoreError> {
    page_of(conn, org, filter, Start::After(after.0, after.1.as_str()), amt)
}

enum Start<'a> {
    Offset(i64),
    After(ConnectionKind, &'a str),
}

fn page_of(
    conn: &mut DbConnection,
    org: &OrganizationId,
    filter: TableFilter,
    start: Start<'_>,
    amt: u32,
) -> Result<(Vec<Table>, bool), StoreError> {
    use diesel::sql_types::{Bool, Text};
    let mut q = t::table.filter(t::organization.eq(org.as_str())).into_boxed();
    if let Some(k) = filter.connection {
        q = q.filter(t::connection.eq(k.as_str()));
    }
    if let Some(r) = filter.resource {
        q = q.filter(t::resource.eq(r.as_str()));
    }
    q = match start {
        Start::Offset(n) => q.offset(n),
        // A row-value comparison, which both backends answer with a range on the index.
        Start::After(kind, name) => q.filter(
            diesel::dsl::sql::<Bool>("(connection, name) > (")
                .bind::<Text, _>(kind.as_str().to_owned())
                .sql(", ")
                .bind::<Text, _>(name.to_owned())
                .sql(")"),
        ),
    };
    let amt_rows = i64::from(amt);
    let mut rows: Vec<TableRow> =
        q.order((t::connection.asc(), t::name.asc())).limit(amt_rows + 1).select(TableRow::as_select()).load(conn)?;
    let has_next = rows.len() as i64 > amt_rows;
    rows.truncate(amt as usize);
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
            .load::<String>(pg)?;
    }
    Ok(())
}

/// Creates or updates a table; a table on any kind but LOCAL needs its connection
/// (CONNECTION_NOT_FOUND otherwise, checked in the same transaction). `decide` sees the stored one (inside the transaction, the row
/// locked) and returns the table to store, or refuses. `created_timestamp` is kept from the
/// stored row; `modified_timestamp` is set when anything changed. A concurrent creation of
/// the same table makes this retry once as an update. In the same transaction: the audit
/// trail (names of the fields changed), the webhooks' events when the status changed, and a
/// new table's scheduled re-test.
pub fn upsert(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    actor: &Actor,
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
                    let fields = table_changes(Some(s), &table);
                    let change = Change::TableUpdated { table: &table, old_status: s.status, fields };
                    journal::record(conn, rules, org, actor, &change)?;
                }
                None => {
                    let count: i64 = t::table.filter(t::organization.eq(org.as_str())).count().get_result(conn)?;
                    if count >= rules.quotas.tables {
                        return Err(StoreError::Rejected(Problem::quota(
                            "tables",
                            "GATEWAY_ORG_MAX_TABLES",
                            rules.quotas.tables,
                            "delete tables this organization no longer uses",
                        )));
                    }
                    table.created_timestamp = now;
                    table.modified_timestamp = now;
                    diesel::insert_into(t::table).values(&TableRow::from_record(&table)).execute(conn)?;
                    let fields = table_changes(None, &table);
                    journal::record(conn, rules, org, actor, &Change::TableCreated { table: &table, fields })?;
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

/// The names of what differs between a stored table and the one replacing it: top-level
/// fields, and the keys inside the params (`connection_table_params.bucket`).
fn table_changes(old: Option<&Table>, new: &Table) -> Vec<String> {
    let mut fields = Vec::new();
    if old.is_none_or(|o| o.resource != new.resource) {
        fields.push("resource".to_owned());
    }
    if old.is_none_or(|o| o.status != new.status) {
        fields.push("status".to_owned());
    }
    fields.extend(changed_fields("resource_params", old.map(|o| &o.resource_params), &new.resource_params));
    fields.extend(changed_fields(
        "connection_table_params",
        old.map(|o| &o.connection_table_params),
        &new.connection_table_params,
    ));
    fields.extend(changed_fields(
        "connection_table_metadata",
        old.map(|o| &o.connection_table_metadata),
        &new.connection_table_metadata,
    ));
    fields
}

/// Whether two versions of a table describe the same thing to test (status and timestamps
/// aside).
fn same_params(a: &Table, b: &Table) -> bool {
    a.resource == b.resource
        && a.resource_params == b.resource_params
        && a.connection_table_params == b.connection_table_params
}

/// Records a table's status, if it is still the table `tested` (a PATCH during the test
/// changed what it describes: the verdict is not its, nothing is recorded and the stored
/// table is answered as it is). `modified_timestamp` moves only when the status changes, and
/// then the audit trail and the webhooks hear of it in the same transaction. `None` when the
/// table is gone.
#[allow(clippy::too_many_arguments, reason = "a repository function: the connection, the rules, and what is recorded")]
pub fn set_status(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    tested: Option<&Table>,
    verdict: Verdict,
    actor: &Actor,
) -> Result<Option<Table>, StoreError> {
    let Verdict { status, stale, schema } = verdict;
    write_transaction(conn, |conn| {
        // The row locked like a PATCH's, so neither overwrites the other's status or moves
        // `modified_timestamp` back.
        lock_row(conn, org, kind, name)?;
        let Some(mut table) = get(conn, org, kind, name)? else { return Ok(None) };
        if tested.is_some_and(|t| !same_params(t, &table)) {
            return Ok(Some(table));
        }
        if table.status != status {
            let old = table.status;
            table.status = status;
            table.modified_timestamp = now_seconds().max(table.modified_timestamp);
            diesel::update(t::table)
                .filter(t::organization.eq(org.as_str()))
                .filter(t::connection.eq(kind.as_str()))
                .filter(t::name.eq(name.as_str()))
                .set((t::status.eq(status.as_str()), t::modified_at.eq(table.modified_timestamp)))
                .execute(conn)?;
            journal::record(conn, rules, org, actor, &Change::TableStatus { table: &table, old })?;
        }
        if let Some(stale) = stale {
            let row = t::table
                .filter(t::organization.eq(org.as_str()))
                .filter(t::connection.eq(kind.as_str()))
                .filter(t::name.eq(name.as_str()));
            let since: Option<i64> = row.select(t::stale_since).first(conn)?;
            // Told once per change: stale from fresh (or unwatched), fresh from stale.
            if stale != since.is_some() {
                let value = if stale { Some(now_seconds()) } else { None };
                diesel::update(row).set(t::stale_since.eq(value)).execute(conn)?;
                journal::record(conn, rules, org, actor, &Change::TableFreshness { kind, name, stale })?;
            }
        }
        if let Some(observed) = &schema {
            keep_schema(conn, rules, org, kind, name, observed, actor)?;
        }
        Ok(Some(table))
    })
}

/// Keeps a schema seen (when it differs from the last kept), audited and told as a change.
fn keep_schema(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    observed: &crate::schemas::Observed,
    actor: &Actor,
) -> Result<(), StoreError> {
    if !observed.columns.is_empty()
        && let Some(diff) = crate::schemas::observe(conn, org, kind, name, observed)?
    {
        journal::record(conn, rules, org, actor, &Change::TableSchema { kind, name, diff: &diff })?;
    }
    Ok(())
}

/// Keeps the schema a look at the table saw that judges nothing (a validation's), its status
/// left as it is; nothing kept when the table is gone or a PATCH since changed what `tested`
/// describes. True when the table was still the one looked at.
#[allow(clippy::too_many_arguments, reason = "a repository function: the connection, the rules, and what is recorded")]
pub fn observe_schema(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    tested: &Table,
    observed: &crate::schemas::Observed,
    actor: &Actor,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        lock_row(conn, org, kind, name)?;
        match get(conn, org, kind, name)? {
            Some(table) if same_params(tested, &table) => {
                keep_schema(conn, rules, org, kind, name, observed, actor)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })
}

/// What a recorded test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: TableStatus,
    /// Whether its data is older than its `freshness_hours` (`None`: not watched, or its age
    /// unknown: the stored freshness is left as it is).
    pub stale: Option<bool>,
    /// The schema it saw (`None`: none seen, e.g. the source could not be read): kept in the
    /// schema history when it differs from the last kept, and told as `table.schema_changed`.
    pub schema: Option<crate::schemas::Observed>,
}

impl From<TableStatus> for Verdict {
    fn from(status: TableStatus) -> Verdict {
        Verdict { status, stale: None, schema: None }
    }
}

/// Deletes a table (its scheduled re-test too); false when there was none.
pub fn delete(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    actor: &Actor,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let n = diesel::delete(t::table)
            .filter(t::organization.eq(org.as_str()))
            .filter(t::connection.eq(kind.as_str()))
            .filter(t::name.eq(name.as_str()))
            .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        journal::record(conn, rules, org, actor, &Change::TableDeleted { kind, name })?;
        Ok(true)
    })
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

    pub fn filter_tables_after(
        &self,
        org: &OrganizationId,
        f: TableFilter,
        after: (ConnectionKind, &TableName),
        amt: u32,
    ) -> Result<(Vec<Table>, bool), StoreError> {
        self.with(|c| filter_after(c, org, f, after, amt))
    }

    pub fn upsert_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        actor: &Actor,
        decide: impl FnMut(Option<&Table>) -> Result<Table, StoreError>,
    ) -> Result<Table, StoreError> {
        self.with(|c| upsert(c, self.rules(), org, kind, name, actor, decide))
    }

    /// Records a table's status (see [`set_status`]); `tested`: the table as the test saw it.
    pub fn set_table_status(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        tested: Option<&Table>,
        verdict: Verdict,
        actor: &Actor,
    ) -> Result<Option<Table>, StoreError> {
        self.with(|c| set_status(c, self.rules(), org, kind, name, tested, verdict, actor))
    }

    /// Records a read of the table's rows in the audit trail.
    pub fn record_rows_read(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        read: &crate::RowsRead,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            write_transaction(c, |c| {
                journal::record(c, self.rules(), org, actor, &Change::TableRowsRead { kind, name, read }).map(|_| ())
            })
        })
    }

    /// Keeps a schema seen without judging the table (see [`observe_schema`]).
    pub fn observe_table_schema(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        tested: &Table,
        observed: &crate::schemas::Observed,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        self.with(|c| observe_schema(c, self.rules(), org, kind, name, tested, observed, actor))
    }

    pub fn delete_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        self.with(|c| delete(c, self.rules(), org, kind, name, actor))
    }
}
