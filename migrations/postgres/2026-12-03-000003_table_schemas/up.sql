-- The schemas recorded tests observed, one row each time a table's columns differ from the
-- last row's: seq counts per table from 1; observed (the columns, [{name, type}]) and diff ({added,
-- removed, changed, timestamp_unit}) are JSON; unit is the mapped timestamp's epoch unit
-- as the sample showed it (NULL: not numbers, or not mapped). Deleted with the table; kept GATEWAY_SCHEMA_RETENTION_DAYS
-- (the newest row of each table always).
CREATE TABLE table_schemas (
    organization TEXT COLLATE "C" NOT NULL,
    connection TEXT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    observed TEXT NOT NULL,
    unit TEXT,
    diff TEXT NOT NULL,
    PRIMARY KEY (organization, connection, name, seq)
);
CREATE INDEX table_schemas_by_age ON table_schemas (at);
