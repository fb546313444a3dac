-- What the last test of a connection's stored credentials found (scheduled or asked for).
ALTER TABLE connections ADD COLUMN status TEXT;
ALTER TABLE connections ADD COLUMN checked_at BIGINT;

-- Scheduled re-tests: one row per connection (name = '') and per table. A replica claims due
-- rows by setting a lease; a lease that expires (the replica died) lets another claim them.
CREATE TABLE scheduled_checks (
    organization TEXT COLLATE "C" NOT NULL,
    connection TEXT NOT NULL,
    name TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_checked_at BIGINT,
    PRIMARY KEY (organization, connection, name)
);
CREATE INDEX scheduled_checks_by_due ON scheduled_checks (due_at);

-- What exists now is due within the default period, spread by creation time.
INSERT INTO scheduled_checks (organization, connection, name, due_at)
    SELECT organization, kind, '', CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) + (created_at % 21600) FROM connections;
INSERT INTO scheduled_checks (organization, connection, name, due_at)
    SELECT organization, connection, name, CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) + (created_at % 21600)
    FROM connection_tables;

-- Webhook endpoints; the signing secret sealed like credentials.
CREATE TABLE webhooks (
    organization TEXT COLLATE "C" NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    secret_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (organization, id)
);

-- The outbox: one row per (event, endpoint), written in the transaction of the change.
CREATE TABLE webhook_deliveries (
    event_id TEXT NOT NULL,
    organization TEXT COLLATE "C" NOT NULL,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    delivered_at BIGINT,
    failed_at BIGINT,
    last_error TEXT,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Who changed what: field names only, never values.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    organization TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    sub TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_log_by_org ON audit_log (organization, id);
CREATE INDEX audit_log_by_at ON audit_log (at);
