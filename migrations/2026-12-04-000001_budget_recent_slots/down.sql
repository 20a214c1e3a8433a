ALTER TABLE platform_budget DROP COLUMN recent_slots;
