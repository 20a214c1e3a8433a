-- Maintained counters, so that statistics and unfiltered list totals cost the same whatever the
-- data size, and call-status updates of task leads stay HOT (call_status is in no index).
--
-- Counters are kept by statement-level triggers over transition tables: one aggregate per
-- statement, not one write per row. Upserts run in key order so concurrent statements lock
-- counter rows in the same order.

-- per task: leads by (call status, intent level, has a job), with call durations
CREATE TABLE task_lead_counts (
    task_id      BIGINT  NOT NULL REFERENCES call_tasks (id) ON DELETE CASCADE,
    call_status  TEXT    NOT NULL,
    intent_level TEXT    NOT NULL,
    has_job      BOOLEAN NOT NULL,
    n            BIGINT  NOT NULL,
    duration_sum BIGINT  NOT NULL,
    duration_n   BIGINT  NOT NULL,
    PRIMARY KEY (task_id, call_status, intent_level, has_job)
);

CREATE FUNCTION task_lead_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_lead_counts AS c
        SELECT task_id, call_status, COALESCE(intent_level, ''), job_id IS NOT NULL,
               count(*), COALESCE(sum(duration_seconds), 0), count(duration_seconds)
        FROM new_rows GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (task_id, call_status, intent_level, has_job) DO UPDATE
            SET n = c.n + EXCLUDED.n, duration_sum = c.duration_sum + EXCLUDED.duration_sum,
                duration_n = c.duration_n + EXCLUDED.duration_n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO task_lead_counts AS c
        SELECT task_id, call_status, intent_level, has_job, sum(dn), sum(ds), sum(dd)
        FROM (
            SELECT task_id, call_status, COALESCE(intent_level, '') AS intent_level, job_id IS NOT NULL AS has_job,
                   -1 AS dn, -COALESCE(duration_seconds, 0) AS ds, -(duration_seconds IS NOT NULL)::int AS dd
            FROM old_rows
            UNION ALL
            SELECT task_id, call_status, COALESCE(intent_level, ''), job_id IS NOT NULL,
                   1, COALESCE(duration_seconds, 0), (duration_seconds IS NOT NULL)::int
            FROM new_rows
        ) d
        GROUP BY 1, 2, 3, 4
        HAVING sum(dn) <> 0 OR sum(ds) <> 0 OR sum(dd) <> 0
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (task_id, call_status, intent_level, has_job) DO UPDATE
            SET n = c.n + EXCLUDED.n, duration_sum = c.duration_sum + EXCLUDED.duration_sum,
                duration_n = c.duration_n + EXCLUDED.duration_n;
    ELSE
        -- deletes come from a deleted task (cascade): only adjust counters that still exist
        UPDATE task_lead_counts c SET n = c.n - d.n, duration_sum = c.duration_sum - d.ds, duration_n = c.duration_n - d.dd
        FROM (
            SELECT task_id, call_status, COALESCE(intent_level, '') AS intent_level, job_id IS NOT NULL AS has_job,
                   count(*) AS n, COALESCE(sum(duration_seconds), 0) AS ds, count(duration_seconds) AS dd
            FROM old_rows GROUP BY 1, 2, 3, 4
        ) d
        WHERE c.task_id = d.task_id AND c.call_status = d.call_status AND c.intent_level = d.intent_level
          AND c.has_job = d.has_job;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER task_lead_counts_ins AFTER INSERT ON leads_task_list
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_lead_counts_apply();
CREATE TRIGGER task_lead_counts_upd AFTER UPDATE ON leads_task_list
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_lead_counts_apply();
CREATE TRIGGER task_lead_counts_del AFTER DELETE ON leads_task_list
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_lead_counts_apply();

INSERT INTO task_lead_counts
SELECT task_id, call_status, COALESCE(intent_level, ''), job_id IS NOT NULL,
       count(*), COALESCE(sum(duration_seconds), 0), count(duration_seconds)
FROM leads_task_list GROUP BY 1, 2, 3, 4;

-- per organisation: leads, and tasks by state
CREATE TABLE org_counts (
    org_id    BIGINT NOT NULL REFERENCES organizations (id),
    kind      TEXT   NOT NULL, -- 'leads' or 'tasks:<task_type>'
    n         BIGINT NOT NULL,
    PRIMARY KEY (org_id, kind)
);

CREATE FUNCTION org_lead_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO org_counts AS c
        SELECT org_id, 'leads', count(*) FROM new_rows GROUP BY 1 ORDER BY 1
        ON CONFLICT (org_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        UPDATE org_counts c SET n = c.n - d.n
        FROM (SELECT org_id, count(*) AS n FROM old_rows GROUP BY 1) d
        WHERE c.org_id = d.org_id AND c.kind = 'leads';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER org_lead_counts_ins AFTER INSERT ON dcc_leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION org_lead_counts_apply();
CREATE TRIGGER org_lead_counts_del AFTER DELETE ON dcc_leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION org_lead_counts_apply();

CREATE FUNCTION org_task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO org_counts AS c
        SELECT org_id, 'tasks:' || task_type, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (org_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO org_counts AS c
        SELECT org_id, kind, sum(dn) FROM (
            SELECT org_id, 'tasks:' || task_type AS kind, -1 AS dn FROM old_rows
            UNION ALL
            SELECT org_id, 'tasks:' || task_type, 1 FROM new_rows
        ) d GROUP BY 1, 2 HAVING sum(dn) <> 0 ORDER BY 1, 2
        ON CONFLICT (org_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        UPDATE org_counts c SET n = c.n - d.n
        FROM (SELECT org_id, 'tasks:' || task_type AS kind, count(*) AS n FROM old_rows GROUP BY 1, 2) d
        WHERE c.org_id = d.org_id AND c.kind = d.kind;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER org_task_counts_ins AFTER INSERT ON call_tasks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION org_task_counts_apply();
-- only state changes move tasks between counters
CREATE TRIGGER org_task_counts_upd AFTER UPDATE ON call_tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION org_task_counts_apply();
CREATE TRIGGER org_task_counts_del AFTER DELETE ON call_tasks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION org_task_counts_apply();

INSERT INTO org_counts SELECT org_id, 'leads', count(*) FROM dcc_leads GROUP BY 1;
INSERT INTO org_counts SELECT org_id, 'tasks:' || task_type, count(*) FROM call_tasks GROUP BY 1, 2;

-- call_status leaves every index: result updates become HOT when the page has room
DROP INDEX leads_task_list_task_status_idx;
CREATE INDEX leads_task_list_unsent_idx ON leads_task_list (task_id, id) WHERE job_id IS NULL;
ALTER TABLE leads_task_list SET (fillfactor = 80);
ALTER TABLE dcc_leads SET (fillfactor = 90);
