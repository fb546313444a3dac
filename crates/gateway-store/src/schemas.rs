//! Schema history: the columns recorded tests observed, one row each time they differ from
//! the last one kept (`observe`, inside the transaction that records the test's verdict),
//! listed newest first, deleted with the table, pruned past the retention (the newest row of
//! each table always kept).

use diesel::prelude::*;
use gateway_domain::{
    Column, ConnectionKind, OrganizationId, Paging, SchemaCurrent, SchemaDiff, SchemaEntry, SchemaHistory, TableName,
    UnitChange, now_seconds,
};

use crate::StoreError;
use crate::db::{DbConnection, Store};
use crate::schema::table_schemas as s;

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a stored schema is not valid JSON: {e}"))
}

type Row = (i64, i64, String, Option<String>, String);

fn entry((_, at, columns, unit, diff): Row) -> Result<SchemaEntry, StoreError> {
    Ok(SchemaEntry {
        at,
        columns: serde_json::from_str(&columns).map_err(corrupt)?,
        unit,
        diff: serde_json::from_str(&diff).map_err(corrupt)?,
    })
}

/// What a recorded test saw of a table's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub columns: Vec<Column>,
    /// The mapped timestamp's epoch unit, as the sample showed it (numbers only).
    pub unit: Option<String>,
}

/// The newest schema kept for a table.
pub fn latest(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
) -> Result<Option<(i64, SchemaEntry)>, StoreError> {
    let row: Option<Row> = s::table
        .filter(s::organization.eq(org.as_str()))
        .filter(s::connection.eq(kind.as_str()))
        .filter(s::name.eq(name.as_str()))
        .order(s::seq.desc())
        .select((s::seq, s::at, s::observed, s::unit, s::diff))
        .first(conn)
        .optional()?;
    row.map(|r| {
        let seq = r.0;
        entry(r).map(|e| (seq, e))
    })
    .transpose()
}

/// Keeps `columns` as the table's schema when they differ from the last kept (by name and
/// type; their order aside). Answers the change from the last, when there was one to differ
/// from (the first schema seen is kept, and is no change). Call inside the transaction that
/// records the test, its row locked.
pub(crate) fn observe(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    observed: &Observed,
) -> Result<Option<SchemaDiff>, StoreError> {
    let last = latest(conn, org, kind, name)?;
    let diff = match &last {
        Some((seq, old)) => {
            let mut d = SchemaDiff::between(&old.columns, &observed.columns);
            match (&old.unit, &observed.unit) {
                (Some(from), Some(to)) if from != to => {
                    d.timestamp_unit = Some(UnitChange { from: from.clone(), to: to.clone() });
                }
                // A unit seen for the first time completes the schema it belongs to.
                (None, Some(unit)) if d.is_empty() => {
                    diesel::update(
                        s::table
                            .filter(s::organization.eq(org.as_str()))
                            .filter(s::connection.eq(kind.as_str()))
                            .filter(s::name.eq(name.as_str()))
                            .filter(s::seq.eq(seq)),
                    )
                    .set(s::unit.eq(unit))
                    .execute(conn)?;
                }
                _ => {}
            }
            if d.is_empty() {
                return Ok(None);
            }
            d
        }
        None => SchemaDiff::default(),
    };
    let columns = &observed.columns;
    let seq = last.as_ref().map_or(1, |(seq, _)| seq + 1);
    diesel::insert_into(s::table)
        .values((
            s::organization.eq(org.as_str()),
            s::connection.eq(kind.as_str()),
            s::name.eq(name.as_str()),
            s::seq.eq(seq),
            s::at.eq(now_seconds()),
            s::observed.eq(serde_json::to_string(columns).map_err(corrupt)?),
            s::unit.eq(observed.unit.as_deref()),
            s::diff.eq(serde_json::to_string(&diff).map_err(corrupt)?),
        ))
        .execute(conn)?;
    Ok(last.map(|_| diff))
}

/// The columns of a table's kept schemas, newest first, at most `limit`: what drift is
/// judged against (a mapped column fit for its field in any of them and unfit now fails the
/// table, on every test until it is fit again, not only on the test that saw it change).
pub fn recent(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    limit: i64,
) -> Result<Vec<SchemaEntry>, StoreError> {
    let rows: Vec<Row> = s::table
        .filter(s::organization.eq(org.as_str()))
        .filter(s::connection.eq(kind.as_str()))
        .filter(s::name.eq(name.as_str()))
        .order(s::seq.desc())
        .limit(limit)
        .select((s::seq, s::at, s::observed, s::unit, s::diff))
        .load(conn)?;
    rows.into_iter().map(entry).collect()
}

/// A table's schemas, newest first.
pub fn history(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    paging: Paging,
) -> Result<SchemaHistory, StoreError> {
    let amt = i64::from(paging.amt());
    let mut rows: Vec<Row> = s::table
        .filter(s::organization.eq(org.as_str()))
        .filter(s::connection.eq(kind.as_str()))
        .filter(s::name.eq(name.as_str()))
        .order(s::seq.desc())
        .limit(amt + 1)
        .offset(paging.offset())
        .select((s::seq, s::at, s::observed, s::unit, s::diff))
        .load(conn)?;
    let has_next = rows.len() as i64 > amt;
    rows.truncate(paging.amt() as usize);
    let history: Vec<SchemaEntry> = rows.into_iter().map(entry).collect::<Result<_, _>>()?;
    let current = match (paging.page(), history.first()) {
        (1, Some(e)) => Some(SchemaCurrent { at: e.at, columns: e.columns.clone() }),
        (1, None) => None,
        _ => latest(conn, org, kind, name)?.map(|(_, e)| SchemaCurrent { at: e.at, columns: e.columns }),
    };
    Ok(SchemaHistory { current, history, has_next, next_page: paging.page() + 1 })
}

/// Deletes the history of a table (`name`), or of every table of a connection.
pub(crate) fn delete_of(
    conn: &mut DbConnection,
    org: &OrganizationId,
    kind: ConnectionKind,
    name: Option<&TableName>,
) -> Result<(), StoreError> {
    let q = s::table.filter(s::organization.eq(org.as_str())).filter(s::connection.eq(kind.as_str()));
    match name {
        Some(n) => diesel::delete(q.filter(s::name.eq(n.as_str()))).execute(conn)?,
        None => diesel::delete(q).execute(conn)?,
    };
    Ok(())
}

/// Deletes schemas observed before `before` (Unix seconds) that a newer one replaced (each
/// table's newest is kept, however old); answers how many.
pub fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    let newer = diesel::alias!(crate::schema::table_schemas as newer);
    let replaced = newer
        .filter(newer.field(s::organization).eq(s::organization))
        .filter(newer.field(s::connection).eq(s::connection))
        .filter(newer.field(s::name).eq(s::name))
        .filter(newer.field(s::seq).gt(s::seq));
    Ok(diesel::delete(s::table.filter(s::at.lt(before)).filter(diesel::dsl::exists(replaced))).execute(conn)?)
}

impl Store {
    /// A table's schema history, newest first, paged.
    pub fn schema_history(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<SchemaHistory, StoreError> {
        self.with(|c| history(c, org, kind, name, paging))
    }

    /// A table's kept schemas, newest first, at most `limit` (see [`recent`]).
    pub fn recent_schemas(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        limit: i64,
    ) -> Result<Vec<SchemaEntry>, StoreError> {
        self.with(|c| recent(c, org, kind, name, limit))
    }

    /// Deletes replaced schemas older than `before`; answers how many.
    pub fn prune_schemas(&self, before: i64) -> Result<usize, StoreError> {
        self.with(|c| prune(c, before))
    }
}
