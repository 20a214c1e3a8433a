-- Execution: leases on tasks, dispatch batches, query execution runs.

ALTER TABLE call_tasks
    ADD COLUMN dispatch_locked_by    TEXT,
    ADD COLUMN dispatch_locked_until TIMESTAMPTZ,
    ADD COLUMN monitor_locked_by     TEXT,
    ADD COLUMN monitor_locked_until  TIMESTAMPTZ;
CREATE INDEX call_tasks_running_idx ON call_tasks (task_type, id) WHERE task_type IN (2, 4);

-- A claimed group of task leads sent (or about to be sent) in one assign_jobs call. It is
-- written before the call and closed after it; an open batch older than a request's lifetime
-- is reconciled against the platform.
CREATE TABLE dispatch_batches (
    id         BIGSERIAL PRIMARY KEY,
    task_id    BIGINT      NOT NULL REFERENCES call_tasks (id) ON DELETE CASCADE,
    worker     TEXT        NOT NULL,
    state      TEXT        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    size       INTEGER     NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at  TIMESTAMPTZ
);
CREATE INDEX dispatch_batches_open_idx ON dispatch_batches (task_id) WHERE state = 'open';

ALTER TABLE leads_task_list ADD COLUMN batch_id BIGINT;
CREATE INDEX leads_task_list_task_status_idx ON leads_task_list (task_id, call_status, id);
CREATE INDEX leads_task_list_batch_idx ON leads_task_list (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE query_execution_runs (
    id           BIGSERIAL PRIMARY KEY,
    task_id      BIGINT      NOT NULL REFERENCES call_tasks (id) ON DELETE CASCADE,
    org_id       BIGINT      NOT NULL,
    status       TEXT        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    total        BIGINT      NOT NULL DEFAULT 0,
    processed    BIGINT      NOT NULL DEFAULT 0,
    next_page    INTEGER     NOT NULL DEFAULT 1,
    error        TEXT,
    locked_by    TEXT,
    locked_until TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ
);
-- at most one unfinished run per task
CREATE UNIQUE INDEX query_execution_runs_open_idx ON query_execution_runs (task_id)
    WHERE status IN ('pending', 'running');
