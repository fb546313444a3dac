//! The one lease protocol of the gateway's job queues (scheduled re-tests, webhook deliveries):
//! a row per job with its organization, a due time and a lease (owner, until). A gateway
//! claims due rows by writing its lease on them in one statement; a lease that expires (its
//! holder died) lets another claim the row.
//!
//! Claims are fair across organizations: rows are ranked within their organization (oldest
//! due first) and taken rank by rank (every organization's first job, then every second
//! one...), and an organization never holds more than `per_org` leases at once, counting
//! those other gateways hold. One tenant with ten thousand due jobs, or with jobs that hang
//! until their timeout, takes its share of the slots and no more.
//!
//! On PostgreSQL the candidates are locked `FOR UPDATE SKIP LOCKED`, so replicas claiming at
//! once take different rows without waiting on each other; SQLite has one writer (the
//! caller's `BEGIN IMMEDIATE` or the statement's own lock). The SQL is the same on both but
//! for that clause; no value in it comes from a tenant (every value is bound).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::StoreError;
use crate::db::DbConnection;

/// A queue's table, as the claim reads it.
pub(crate) struct Queue {
    pub table: &'static str,
    /// The primary key's columns.
    pub key: &'static [&'static str],
    /// The column holding when a row is due.
    pub due: &'static str,
    /// What else makes a row pending (`TRUE` when every row is).
    pub pending: &'static str,
    /// The columns the claim answers, in the order of the caller's `QueryableByName` row.
    pub returning: &'static str,
}

impl Queue {
    fn sql(&self, postgres: bool) -> String {
        let Queue { table, key, due, pending, returning } = self;
        let keys = key.join(", ");
        let join =
            |a: &str, b: &str| key.iter().map(|k| format!("{a}.{k} = {b}.{k}")).collect::<Vec<_>>().join(" AND ");
        let claimable =
            |t: &str| format!("{t}.{due} <= $1 AND ({t}.lease_until IS NULL OR {t}.lease_until < $1) AND ({pending})");
        let lock = if postgres { "FOR UPDATE OF c SKIP LOCKED" } else { "" };
        // PostgreSQL needs the target's alias (`pick` has the same names); SQLite's RETURNING
        // sees the target table alone, and unqualified.
        let returning = if postgres {
            returning.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
        } else {
            (*returning).to_owned()
        };
        let sql = format!(
            "WITH busy AS (
                SELECT organization, COUNT(*) AS n FROM {table} WHERE lease_until >= $1 AND ({pending})
                GROUP BY organization
             ), ranked AS (
                SELECT {keys}, {due}, ROW_NUMBER() OVER (PARTITION BY organization ORDER BY {due}, {keys}) AS rn
                FROM {table} t WHERE {t_claimable}
             ), pick AS (
                SELECT {c_keys} FROM {table} c
                JOIN ranked r ON {c_r}
                LEFT JOIN busy b ON b.organization = r.organization
                WHERE r.rn + COALESCE(b.n, 0) <= $2 AND {c_claimable}
                ORDER BY r.rn, r.{due}
                LIMIT $3
                {lock}
             )
             UPDATE {table} AS s SET lease_owner = $4, lease_until = $5
             FROM pick WHERE {s_pick}
             RETURNING {returning}",
            t_claimable = claimable("t"),
            c_claimable = claimable("c"),
            c_keys = key.iter().map(|k| format!("c.{k}")).collect::<Vec<_>>().join(", "),
            c_r = join("c", "r"),
            s_pick = join("s", "pick"),
        );
        // SQLite numbers its parameters `?N`, PostgreSQL `$N`; both bind them by position.
        if postgres { sql } else { sql.replace('$', "?") }
    }

    /// Claims up to `limit` rows due at `now` for `owner` until `until`, at most `per_org`
    /// leased per organization (held by anyone); answers the claimed rows.
    pub fn claim<R>(
        &self,
        conn: &mut DbConnection,
        now: i64,
        per_org: i64,
        limit: i64,
        owner: &str,
        until: i64,
    ) -> Result<Vec<R>, StoreError>
    where
        R: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
    {
        let query = |postgres: bool| {
            diesel::sql_query(self.sql(postgres))
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(per_org.max(1))
                .bind::<BigInt, _>(limit.max(0))
                .bind::<Text, _>(owner.to_owned())
                .bind::<BigInt, _>(until)
        };
        Ok(match conn {
            DbConnection::Postgresql(pg) => query(true).load::<R>(pg)?,
            DbConnection::Sqlite(lite) => query(false).load::<R>(lite)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_is_one_statement_with_bound_values_only() {
        let q = Queue {
            table: "jobs",
            key: &["organization", "id"],
            due: "due_at",
            pending: "TRUE",
            returning: "organization, id",
        };
        let pg = q.sql(true);
        assert!(pg.contains("FOR UPDATE OF c SKIP LOCKED") && pg.contains("$5"), "{pg}");
        let lite = q.sql(false);
        assert!(!lite.contains('$') && lite.contains("?5") && !lite.contains("FOR UPDATE"), "{lite}");
    }
}
