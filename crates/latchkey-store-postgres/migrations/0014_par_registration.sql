-- Pushed authorization requests (RFC 9126).

-- Per client: /authorize answers only requests pushed first (RFC 9126 §6,
-- `require_pushed_authorization_requests` client metadata).
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per pushed request. The `request_uri` handed to the client is
-- `urn:ietf:params:oauth:request_uri:<random>`; only the SHA-256 of the random part is
-- kept, so a copy of the database yields no usable request_uri. `params` is the pushed
-- form as sent (a JSON object of name → value), validated again when /authorize loads
-- it, so a parameter /authorize learns later travels through a push unchanged.
-- Single use: `consumed_at` is set by one conditional UPDATE in the transaction that
-- writes the authorization code; the leader's purge deletes rows after `expires_at`.
CREATE TABLE pushed_requests (
    hash        BYTEA   NOT NULL PRIMARY KEY,
    client_id   TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX pushed_requests_by_expiry ON pushed_requests (expires_at);
CREATE INDEX pushed_requests_by_client ON pushed_requests (client_id);

-- Dynamic client registration (RFC 7591/7592).

-- Registered through /register rather than by an administrator (the console marks it).
ALTER TABLE clients ADD COLUMN registered BOOLEAN NOT NULL DEFAULT FALSE;

-- Initial access tokens (RFC 7591 §3): made by an administrator, each scoped to what
-- the clients registered with it may have. Only the SHA-256 of the token is kept.
-- `grant_types`, `scopes` and `redirect_uri_prefixes` are JSON lists of strings.
-- `uses_left` NULL: any number of registrations until `expires_at`.
CREATE TABLE registration_tokens (
    id                    TEXT    NOT NULL PRIMARY KEY,
    hash                  BYTEA   NOT NULL UNIQUE,
    grant_types           TEXT    NOT NULL,
    scopes                TEXT    NOT NULL,
    redirect_uri_prefixes TEXT    NOT NULL,
    uses_left             BIGINT,
    registered            BIGINT  NOT NULL DEFAULT 0,
    created_at            BIGINT  NOT NULL,
    created_by            TEXT    NOT NULL,
    expires_at            BIGINT  NOT NULL,
    revoked_at            BIGINT
);

-- One row per registered client: the SHA-256 of its registration access token
-- (RFC 7592 §3) and the policy of the initial access token it was registered with (a
-- JSON copy, so an update is held to it even after the token is revoked or purged).
CREATE TABLE client_registrations (
    client_id  TEXT    NOT NULL PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    rat_hash   BYTEA   NOT NULL UNIQUE,
    token_id   TEXT    NOT NULL,
    policy     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
