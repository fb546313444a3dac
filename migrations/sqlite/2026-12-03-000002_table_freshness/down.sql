ALTER TABLE connection_tables DROP COLUMN stale_since;
