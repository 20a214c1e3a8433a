DELETE FROM org_counts WHERE kind IN ('task_leads', 'task_called', 'task_connected');

CREATE OR REPLACE FUNCTION org_task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
