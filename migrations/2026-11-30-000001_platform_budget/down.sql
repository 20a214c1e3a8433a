ALTER TABLE call_tasks DROP COLUMN synced_final_jobs;
DROP TABLE platform_budget;
