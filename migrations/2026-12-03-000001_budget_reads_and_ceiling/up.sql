-- The sync share is applied when a reader's slot is reserved (from the last reader's slot), not
-- fixed in advance: a reader no longer waits out a share of a dispatch that has ended.
ALTER TABLE platform_budget RENAME COLUMN sync_next_free TO last_read;
-- The discovered rate when the last throttling answer came: the rate comes back to just under
-- it fast after a cut, and probes past it slowly.
ALTER TABLE platform_budget ADD COLUMN ceiling double precision NOT NULL DEFAULT 0;
