-- The admin API (issue 3): API keys for automation, per-minute issuance counts for the
-- dashboard, and indexes so the first page of any session filter stays fast at a
-- million sessions.

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- SHA-256 of the key; the key itself is shown once and never stored.
    hash         BYTEA   NOT NULL UNIQUE,
    read_only    BOOLEAN NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

-- Each node adds its own counters every few seconds; the primary key makes that an
-- upsert, so nodes and restarts add up instead of overwriting each other.
CREATE TABLE token_stats (
    minute    BIGINT  NOT NULL,
    grant_type TEXT   NOT NULL,
    client_id TEXT    NOT NULL,
    count     BIGINT  NOT NULL,
    PRIMARY KEY (minute, grant_type, client_id)
);

-- Keyset pagination orders by (sort key, id): indexes that end in id let the first page
-- of a listing read 50 index entries instead of sorting every match.
CREATE INDEX sessions_by_created_id ON sessions (created_at, id);
CREATE INDEX sessions_by_last_used_id ON sessions (last_used_at, id);
CREATE INDEX sessions_by_user_created_id ON sessions (user_id, created_at, id);
CREATE INDEX sessions_by_client_created_id ON sessions (client_id, created_at, id);
-- COLLATE "C": the IP prefix filter compares byte-wise ranges.
CREATE INDEX sessions_by_ip_created_id ON sessions (ip COLLATE "C", created_at, id);
CREATE INDEX sessions_by_revoked ON sessions (revoked_at);
