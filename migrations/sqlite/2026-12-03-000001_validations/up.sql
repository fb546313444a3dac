-- Whole-table validations: durable jobs claimed with a lease like scheduled checks (one
-- replica runs each; a lease that expires, its holder gone, lets another claim it again).
-- state: queued, running, succeeded, failed, cancelled; request ({max_errors, max_rows}),
-- progress ({rows, bytes_read, bytes_total}), report and error are JSON.
CREATE TABLE validations (
    organization TEXT NOT NULL,
    id TEXT NOT NULL,
    connection TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    finished_at BIGINT,
    request TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '{"rows":0,"bytes_read":0,"bytes_total":0}',
    report TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    PRIMARY KEY (organization, id)
);
CREATE INDEX validations_by_table ON validations (organization, connection, name, created_at);
CREATE INDEX validations_pending ON validations (due_at) WHERE finished_at IS NULL;
CREATE INDEX validations_by_lease ON validations (lease_until, organization);
CREATE INDEX validations_finished ON validations (finished_at);
