DROP INDEX organizations_sibling_name;
DROP TABLE revoked_tokens;
DROP INDEX users_org_idx;
ALTER TABLE users
    DROP COLUMN token_version,
    DROP COLUMN must_change_password,
    DROP COLUMN enabled;
