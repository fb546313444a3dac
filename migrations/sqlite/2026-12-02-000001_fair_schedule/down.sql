DROP INDEX scheduled_checks_by_lease;
DROP INDEX webhook_deliveries_waiting;
ALTER TABLE webhook_deliveries DROP COLUMN subject;
ALTER TABLE webhooks DROP COLUMN open_until;
ALTER TABLE webhooks DROP COLUMN failures;
