-- A delivery keeps its event's body as the text that is sent and signed: made once by the
-- event, never parsed by the database (a sync writes one per finished lead, in its own
-- transaction, so the jsonb parse was on the sync's path).
ALTER TABLE webhook_deliveries ALTER COLUMN payload TYPE TEXT USING payload::text;
