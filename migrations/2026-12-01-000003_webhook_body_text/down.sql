ALTER TABLE webhook_deliveries ALTER COLUMN payload TYPE JSONB USING payload::jsonb;
