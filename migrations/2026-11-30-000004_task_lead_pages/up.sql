-- a page of a task's leads in id order (query-task-execution, the console's results) reads
-- its 20 rows from this index instead of sorting the task's leads; call_status stays out of every
-- index, so result updates stay HOT
CREATE INDEX leads_task_list_task_id_idx ON leads_task_list (task_id, id);
