-- Failed logins, shared by every instance: the throttle counts them per username and per
-- client address over its window (15 minutes). Rows older than the window are removed as new
-- failures are written; a successful login removes its username's.
CREATE TABLE login_failures (
    id          BIGSERIAL   PRIMARY KEY,
    username    TEXT        NOT NULL,
    client_addr TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_user_idx ON login_failures (username, at);
CREATE INDEX login_failures_addr_idx ON login_failures (client_addr, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);
