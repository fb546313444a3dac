-- Since when a table with connection_table_params.freshness_hours has been stale (its newest
-- file older than that), as its recorded tests saw it; NULL while fresh or not watched. Its
-- changes are told once each: table.stale, table.fresh.
ALTER TABLE connection_tables ADD COLUMN stale_since BIGINT;
