DROP TABLE query_execution_runs;
DROP INDEX leads_task_list_batch_idx;
DROP INDEX leads_task_list_task_status_idx;
ALTER TABLE leads_task_list DROP COLUMN batch_id;
DROP TABLE dispatch_batches;
DROP INDEX call_tasks_running_idx;
ALTER TABLE call_tasks
    DROP COLUMN dispatch_locked_by,
    DROP COLUMN dispatch_locked_until,
    DROP COLUMN monitor_locked_by,
    DROP COLUMN monitor_locked_until;
