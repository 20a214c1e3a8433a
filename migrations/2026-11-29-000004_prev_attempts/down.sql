ALTER TABLE leads_task_list DROP COLUMN prev_attempts;
