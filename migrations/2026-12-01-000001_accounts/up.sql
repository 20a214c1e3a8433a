-- Accounts managed by admins: a user can be disabled, must change a reset password, and every
-- token carries the credential version it was issued under (a password change bumps it, which
-- refuses every older token).
ALTER TABLE users
    ADD COLUMN enabled              BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN token_version        INTEGER NOT NULL DEFAULT 0;

CREATE INDEX users_org_idx ON users (org_id);

-- Tokens ended by logout, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    token_id   TEXT        PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_user_idx ON revoked_tokens (user_id);
CREATE INDEX revoked_tokens_expiry_idx ON revoked_tokens (expires_at);

-- Sibling organisations have different names (roots are siblings of each other).
CREATE UNIQUE INDEX organizations_sibling_name ON organizations (COALESCE(parent_id, 0), name);
