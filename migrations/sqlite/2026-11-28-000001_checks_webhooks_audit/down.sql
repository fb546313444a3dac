DROP TABLE audit_log;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE scheduled_checks;
ALTER TABLE connections DROP COLUMN checked_at;
ALTER TABLE connections DROP COLUMN status;
