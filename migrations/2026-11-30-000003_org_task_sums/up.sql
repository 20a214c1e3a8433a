-- The caller's task overview (GET /api/task-stats, the console's home page) from maintained
-- counters, not a pass over every task: per organisation, besides tasks by state, the sums of
-- the tasks' leads, called and connected counters ('task_leads', 'task_called',
-- 'task_connected'), kept by the same statement trigger over transition tables. An UPDATE that
-- changes none of them (a lease renewal) writes nothing.

CREATE OR REPLACE FUNCTION org_task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO org_counts AS c
        SELECT org_id, kind, sum(dn) FROM (
            SELECT org_id, 'tasks:' || task_type AS kind, 1::bigint AS dn FROM new_rows
            UNION ALL SELECT org_id, 'task_leads', leads_count FROM new_rows
            UNION ALL SELECT org_id, 'task_called', called_count FROM new_rows
            UNION ALL SELECT org_id, 'task_connected', connected_count FROM new_rows
        ) d GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (org_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO org_counts AS c
        SELECT org_id, kind, sum(dn) FROM (
            SELECT org_id, 'tasks:' || task_type AS kind, -1::bigint AS dn FROM old_rows
            UNION ALL SELECT org_id, 'tasks:' || task_type, 1 FROM new_rows
            UNION ALL SELECT org_id, 'task_leads', -leads_count FROM old_rows
            UNION ALL SELECT org_id, 'task_leads', leads_count FROM new_rows
            UNION ALL SELECT org_id, 'task_called', -called_count FROM old_rows
            UNION ALL SELECT org_id, 'task_called', called_count FROM new_rows
            UNION ALL SELECT org_id, 'task_connected', -connected_count FROM old_rows
            UNION ALL SELECT org_id, 'task_connected', connected_count FROM new_rows
        ) d GROUP BY 1, 2 HAVING sum(dn) <> 0 ORDER BY 1, 2
        ON CONFLICT (org_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        UPDATE org_counts c SET n = c.n - d.n
        FROM (
            SELECT org_id, kind, sum(dn) AS n FROM (
                SELECT org_id, 'tasks:' || task_type AS kind, 1::bigint AS dn FROM old_rows
                UNION ALL SELECT org_id, 'task_leads', leads_count FROM old_rows
                UNION ALL SELECT org_id, 'task_called', called_count FROM old_rows
                UNION ALL SELECT org_id, 'task_connected', connected_count FROM old_rows
            ) x GROUP BY 1, 2
        ) d
        WHERE c.org_id = d.org_id AND c.kind = d.kind;
    END IF;
    RETURN NULL;
END $$;

INSERT INTO org_counts AS c
SELECT org_id, kind, sum(n) FROM (
    SELECT org_id, 'task_leads' AS kind, leads_count AS n FROM call_tasks
    UNION ALL SELECT org_id, 'task_called', called_count FROM call_tasks
    UNION ALL SELECT org_id, 'task_connected', connected_count FROM call_tasks
) d GROUP BY 1, 2
ON CONFLICT (org_id, kind) DO UPDATE SET n = EXCLUDED.n;
