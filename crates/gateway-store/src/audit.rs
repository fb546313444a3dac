//! The audit trail: who changed what, appended in the transaction of the change. Field names
//! only, never values.

use diesel::prelude::*;
use gateway_domain::{Actor, AuditAction, AuditEntry, OrganizationId, Paging, now_seconds};

use crate::StoreError;
use crate::db::{DbConnection, Store};
use crate::schema::audit_log as a;

/// Appends one entry. Called inside the transaction that makes the change, so both commit or
/// neither does.
pub(crate) fn append(
    conn: &mut DbConnection,
    org: &str,
    actor: &Actor,
    action: AuditAction,
    target: &str,
    fields: &[String],
) -> Result<(), StoreError> {
    diesel::insert_into(a::table)
        .values((
            a::organization.eq(org),
            a::at.eq(now_seconds()),
            a::sub.eq(&actor.sub),
            a::role.eq(actor.role_name()),
            a::action.eq(action.as_str()),
            a::target.eq(target),
            a::fields.eq(serde_json::to_string(fields).unwrap_or_else(|_| "[]".into())),
        ))
        .execute(conn)?;
    Ok(())
}

type Row = (i64, i64, String, String, String, String, String);

/// One page of the organization's trail, newest first, and whether older entries follow.
pub fn page(
    conn: &mut DbConnection,
    org: &OrganizationId,
    paging: Paging,
) -> Result<(Vec<AuditEntry>, bool), StoreError> {
    let amt = i64::from(paging.amt());
    let mut rows: Vec<Row> = a::table
        .filter(a::organization.eq(org.as_str()))
        .order(a::id.desc())
        .limit(amt + 1)
        .offset(paging.offset())
        .select((a::id, a::at, a::sub, a::role, a::action, a::target, a::fields))
        .load(conn)?;
    let has_next = rows.len() as i64 > amt;
    rows.truncate(paging.amt() as usize);
    let entries = rows
        .into_iter()
        .map(|(id, at, sub, role, action, target, fields)| {
            let fields = serde_json::from_str(&fields)
                .map_err(|e| StoreError::Corrupt(format!("audit entry {id}: fields: {e}")))?;
            Ok(AuditEntry { id, at, sub, role, action, target, fields })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((entries, has_next))
}

/// Deletes entries older than `before` (Unix seconds); answers how many.
pub fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(a::table.filter(a::at.lt(before))).execute(conn)?)
}

impl Store {
    pub fn audit_page(&self, org: &OrganizationId, paging: Paging) -> Result<(Vec<AuditEntry>, bool), StoreError> {
        self.with(|c| page(c, org, paging))
    }

    pub fn prune_audit(&self, before: i64) -> Result<usize, StoreError> {
        self.with(|c| prune(c, before))
    }
}
