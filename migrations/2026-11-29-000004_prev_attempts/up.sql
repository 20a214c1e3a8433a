-- The attempts a task lead had before its last result update. A result update sets it from the
-- row version it replaces, so the update can return exactly how many new calls it recorded (and
-- add them to the lead's call count) without locking the rows in a separate pass first.
-- A constant default: no table rewrite.
ALTER TABLE leads_task_list ADD COLUMN prev_attempts INT NOT NULL DEFAULT 0;
