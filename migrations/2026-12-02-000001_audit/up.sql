-- The audit trail: one row per state-changing action (or its refusal). Rows are written by the
-- action's own transaction where it has one. The table is append-only: UPDATE and TRUNCATE are
-- refused, and DELETE only from the retention job (which sets outbound.audit_retention in its
-- transaction), never by anything else.
CREATE TABLE audit_log (
    id          BIGSERIAL   PRIMARY KEY,
    time        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- the user who acted (users are never deleted); NULL for the CLI and unknown login names
    actor_id    BIGINT,
    actor_name  TEXT        NOT NULL,
    org_id      BIGINT,
    action      TEXT        NOT NULL,
    target_kind TEXT,
    target_id   BIGINT,
    -- 'ok', or the error code of the refusal
    outcome     TEXT        NOT NULL,
    request_id  TEXT,
    client_addr TEXT,
    details     JSONB       NOT NULL DEFAULT 'null'
);
-- an organisation's newest entries first (the list), what is old (the retention), a task's
CREATE INDEX audit_log_org_idx ON audit_log (org_id, id DESC);
CREATE INDEX audit_log_time_idx ON audit_log (time);
CREATE INDEX audit_log_target_idx ON audit_log (target_kind, target_id, id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('outbound.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
