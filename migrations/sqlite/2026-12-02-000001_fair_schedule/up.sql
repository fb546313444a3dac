-- A circuit breaker per webhook endpoint: failed deliveries in a row, and until when its
-- deliveries wait (the endpoint is failing: tried again once it may have recovered).
ALTER TABLE webhooks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN open_until BIGINT;

-- What a delivery's event is about ('S3/items.csv', 'S3', or '' for a ping), so that a new
-- status change of a table coalesces with one still waiting for the same endpoint.
ALTER TABLE webhook_deliveries ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (organization, webhook_id, subject)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Leases held per organization, counted by every fair claim.
CREATE INDEX scheduled_checks_by_lease ON scheduled_checks (lease_until, organization);
