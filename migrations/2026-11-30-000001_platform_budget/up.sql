-- The request budget of each platform account, shared by every instance of the service
-- (adapters/src/pg_budget.rs; the rules are adapters/src/platform/budget.rs).
CREATE TABLE platform_budget (
    account text PRIMARY KEY,
    rate double precision NOT NULL,
    slow_start boolean NOT NULL,
    next_free timestamptz NOT NULL,
    sync_next_free timestamptz NOT NULL,
    dispatch_demand_until timestamptz NOT NULL,
    last_cut timestamptz NOT NULL,
    reserved bigint NOT NULL DEFAULT 0,
    throttled bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Leading jobs of a task's group (in the platform's listing order) that were all final at the
-- last sync: the monitor reads results from the page that holds the next one.
ALTER TABLE call_tasks ADD COLUMN synced_final_jobs bigint NOT NULL DEFAULT 0;
