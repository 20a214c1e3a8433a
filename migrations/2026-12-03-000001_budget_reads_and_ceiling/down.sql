ALTER TABLE platform_budget DROP COLUMN ceiling;
ALTER TABLE platform_budget RENAME COLUMN last_read TO sync_next_free;
