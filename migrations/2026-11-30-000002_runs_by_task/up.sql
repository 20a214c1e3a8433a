-- the console finds a task's newest run again after a reload
CREATE INDEX query_execution_runs_task_idx ON query_execution_runs (task_id, id DESC);
