-- Organisations (tenants), users, leads, call tasks, task leads, scenes.

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT        NOT NULL,
    parent_id   BIGINT      REFERENCES organizations (id),
    create_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX organizations_parent_idx ON organizations (parent_id);

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT        NOT NULL UNIQUE,
    password_hash TEXT        NOT NULL,
    display_name  TEXT        NOT NULL,
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'operator')),
    org_id        BIGINT      NOT NULL REFERENCES organizations (id),
    create_time   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dcc_leads (
    id             BIGSERIAL PRIMARY KEY,
    org_id         BIGINT      NOT NULL REFERENCES organizations (id),
    -- identity within the organisation: 'e:<external_id>' or 'p:<phone>'
    ident          TEXT        NOT NULL,
    external_id    TEXT,
    customer_name  TEXT        NOT NULL,
    phone          TEXT        NOT NULL,
    level          TEXT        NOT NULL DEFAULT 'N',
    source         TEXT        NOT NULL DEFAULT '',
    vehicle_model  TEXT        NOT NULL DEFAULT '',
    status         TEXT        NOT NULL DEFAULT '未跟进',
    owner_name     TEXT        NOT NULL DEFAULT '',
    create_time    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_call_time TIMESTAMPTZ,
    call_count     INTEGER     NOT NULL DEFAULT 0,
    do_not_call    BOOLEAN     NOT NULL DEFAULT FALSE,
    UNIQUE (org_id, ident)
);
CREATE INDEX dcc_leads_org_created_idx ON dcc_leads (org_id, create_time DESC, id DESC);
CREATE INDEX dcc_leads_org_phone_idx ON dcc_leads (org_id, phone);

CREATE TABLE call_tasks (
    id              BIGSERIAL PRIMARY KEY,
    org_id          BIGINT      NOT NULL REFERENCES organizations (id),
    created_by      BIGINT      REFERENCES users (id),
    task_name       TEXT        NOT NULL,
    task_type       SMALLINT    NOT NULL DEFAULT 1 CHECK (task_type BETWEEN 1 AND 5),
    script_id       TEXT        NOT NULL DEFAULT '',
    job_group_id    TEXT,
    size_desc       TEXT        NOT NULL DEFAULT '',
    filters         JSONB       NOT NULL DEFAULT '{}',
    leads_count     BIGINT      NOT NULL DEFAULT 0,
    called_count    BIGINT      NOT NULL DEFAULT 0,
    connected_count BIGINT      NOT NULL DEFAULT 0,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX call_tasks_org_idx ON call_tasks (org_id, id DESC);
CREATE INDEX call_tasks_active_idx ON call_tasks (id) WHERE task_type IN (1, 2, 4);

-- One lead in one task. Its id is the platform's reference id.
CREATE TABLE leads_task_list (
    id                BIGSERIAL PRIMARY KEY,
    task_id           BIGINT      NOT NULL REFERENCES call_tasks (id) ON DELETE CASCADE,
    org_id            BIGINT      NOT NULL,
    lead_id           BIGINT      NOT NULL,
    phone             TEXT        NOT NULL,
    customer_name     TEXT        NOT NULL,
    call_status       TEXT        NOT NULL DEFAULT 'pending',
    job_id            TEXT,
    attempts          INTEGER     NOT NULL DEFAULT 0,
    last_call_time    TIMESTAMPTZ,
    duration_seconds  INTEGER,
    intent_level      TEXT,
    intent_tags       JSONB       NOT NULL DEFAULT '[]',
    summary           TEXT,
    follow_suggestion TEXT,
    update_time       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX leads_task_list_task_phone_idx ON leads_task_list (task_id, phone);
CREATE INDEX leads_task_list_org_phone_idx ON leads_task_list (org_id, phone);

CREATE TABLE scenes (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT      NOT NULL REFERENCES organizations (id),
    created_by  BIGINT      REFERENCES users (id),
    scene_name  TEXT        NOT NULL,
    script_id   TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    filters     JSONB       NOT NULL DEFAULT '{}',
    create_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX scenes_org_idx ON scenes (org_id, id DESC);

-- Key/value settings the service keeps for itself (e.g. whether the demo was seeded).
CREATE TABLE service_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
