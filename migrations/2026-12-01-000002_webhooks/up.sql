-- Webhooks: endpoints registered by admins, and the outbox of their deliveries. A delivery row
-- is written in the same transaction as the change it reports; the delivery worker sends it.
CREATE TABLE webhooks (
    id                    BIGSERIAL   PRIMARY KEY,
    org_id                BIGINT      NOT NULL REFERENCES organizations (id),
    url                   TEXT        NOT NULL,
    events                TEXT[]      NOT NULL,
    description           TEXT        NOT NULL DEFAULT '',
    enabled               BOOLEAN     NOT NULL DEFAULT true,
    secret                TEXT        NOT NULL,
    -- during a rotation the previous secret signs too, until then
    previous_secret       TEXT,
    previous_secret_until TIMESTAMPTZ,
    created_by            BIGINT      REFERENCES users (id),
    create_time           TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_org_idx ON webhooks (org_id);

-- Written by the result sync's transactions (one row per finished lead and endpoint): beside
-- its primary key it has one index, the due deliveries' (the claims' order), and no other.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL   PRIMARY KEY,
    webhook_id      BIGINT      NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- the event's id: the same for every endpoint and every retry (receivers deduplicate by it)
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_by       TEXT,
    locked_until    TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    last_response   TEXT,
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
