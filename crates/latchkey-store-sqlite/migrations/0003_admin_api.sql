-- The admin API (issue 3): API keys for automation, per-minute issuance counts for the
-- dashboard, and indexes so the first page of any session filter stays fast at a
-- million sessions.

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    -- SHA-256 of the key; the key itself is shown once and never stored.
    hash         BLOB    NOT NULL UNIQUE,
    read_only    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

-- Each node adds its own counters every few seconds; the primary key makes that an
-- upsert, so nodes and restarts add up instead of overwriting each other.
CREATE TABLE token_stats (
    minute    INTEGER NOT NULL,
    grant_type TEXT   NOT NULL,
    client_id TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (minute, grant_type, client_id)
);

-- Keyset pagination orders by (sort key, id): indexes that end in id let the first page
-- of a listing read 50 index entries instead of sorting every match.
CREATE INDEX sessions_by_created_id ON sessions (created_at, id);
CREATE INDEX sessions_by_last_used_id ON sessions (last_used_at, id);
CREATE INDEX sessions_by_user_created_id ON sessions (user_id, created_at, id);
CREATE INDEX sessions_by_client_created_id ON sessions (client_id, created_at, id);
CREATE INDEX sessions_by_ip_created_id ON sessions (ip, created_at, id);
CREATE INDEX sessions_by_revoked ON sessions (revoked_at);
