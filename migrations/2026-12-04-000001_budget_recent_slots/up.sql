-- The slots slow start gave in the last seconds: its first throttling answer sets the ceiling to
-- what the platform accepted in the second before the refused request.
ALTER TABLE platform_budget ADD COLUMN recent_slots timestamptz[] NOT NULL DEFAULT '{}';
