-- Latchkey schema, version 1.
--
-- Kept close to portable SQL so the PostgreSQL store can ship a migration of the same
-- name with the same tables and columns: TEXT / INTEGER / BLOB only, timestamps as
-- INTEGER Unix seconds, booleans as INTEGER 0/1, lists as JSON array text, hashes as
-- BLOB. Anything that hangs off a client or a user goes with it (ON DELETE CASCADE), so
-- deleting a client is one statement and leaves no orphans for the engine to trip over.

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    email               TEXT,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    name                TEXT,
    password_hash       TEXT    NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0,
    is_admin            INTEGER NOT NULL DEFAULT 0,
    password_changed_at INTEGER NOT NULL,
    created_at          INTEGER NOT NULL
);

CREATE TABLE clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    client_type               TEXT    NOT NULL,
    auth_method               TEXT    NOT NULL,
    grant_types               TEXT    NOT NULL,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    allowed_scopes            TEXT    NOT NULL,
    jwks                      TEXT,
    access_token_ttl          INTEGER NOT NULL,
    refresh_token_ttl         INTEGER NOT NULL,
    refresh_idle_ttl          INTEGER NOT NULL,
    refresh_grace_secs        INTEGER NOT NULL,
    require_consent           INTEGER NOT NULL,
    disabled                  INTEGER NOT NULL,
    tokens_valid_after        INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);

CREATE TABLE client_secrets (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at);

CREATE TABLE scopes (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    claims      TEXT    NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY,
    alg          TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    public_jwk   TEXT    NOT NULL,
    private_enc  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    activated_at INTEGER,
    retiring_at  INTEGER,
    retired_at   INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE sign_ins (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  INTEGER NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER
);
CREATE INDEX sign_ins_by_user ON sign_ins (user_id);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_by_client ON consents (client_id);

CREATE TABLE auth_requests (
    id          TEXT    NOT NULL PRIMARY KEY,
    params      TEXT    NOT NULL,
    sign_in_id  TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX auth_requests_by_expiry ON auth_requests (expires_at);
CREATE INDEX auth_requests_by_sign_in ON auth_requests (sign_in_id);

CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sign_in_id     TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    scopes         TEXT    NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    revoked_at     INTEGER,
    revoked_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
CREATE INDEX sessions_by_client ON sessions (client_id, created_at);
CREATE INDEX sessions_by_created ON sessions (created_at);
CREATE INDEX sessions_by_sign_in ON sessions (sign_in_id);

-- session_id is filled in by the redemption, in the same transaction that inserts the
-- session, so its foreign key is checked at commit rather than at the UPDATE.
CREATE TABLE auth_codes (
    hash              BLOB    NOT NULL PRIMARY KEY,
    client_id         TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id           TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sign_in_id        TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    redirect_uri      TEXT    NOT NULL,
    redirect_uri_sent INTEGER NOT NULL,
    scopes            TEXT    NOT NULL,
    nonce             TEXT,
    code_challenge    TEXT,
    auth_time         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    consumed_at       INTEGER,
    session_id        TEXT    REFERENCES sessions (id) ON DELETE SET NULL
                              DEFERRABLE INITIALLY DEFERRED,
    ip                TEXT,
    user_agent        TEXT
);
CREATE INDEX auth_codes_by_client ON auth_codes (client_id);
CREATE INDEX auth_codes_by_user ON auth_codes (user_id);
CREATE INDEX auth_codes_by_expiry ON auth_codes (expires_at);
CREATE INDEX auth_codes_by_sign_in ON auth_codes (sign_in_id);
CREATE INDEX auth_codes_by_session ON auth_codes (session_id);

CREATE TABLE device_codes (
    hash           BLOB    NOT NULL PRIMARY KEY,
    user_code_hash BLOB    NOT NULL UNIQUE,
    client_id      TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes         TEXT    NOT NULL,
    status         TEXT    NOT NULL
                           CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    user_id        TEXT    REFERENCES users (id) ON DELETE CASCADE,
    sign_in_id     TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    auth_time      INTEGER,
    poll_interval  INTEGER NOT NULL,
    last_polled_at INTEGER,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    session_id     TEXT    REFERENCES sessions (id) ON DELETE SET NULL
                           DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX device_codes_by_client ON device_codes (client_id);
CREATE INDEX device_codes_by_user ON device_codes (user_id);
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at);
CREATE INDEX device_codes_by_sign_in ON device_codes (sign_in_id);
CREATE INDEX device_codes_by_session ON device_codes (session_id);

CREATE TABLE refresh_tokens (
    hash            BLOB    NOT NULL PRIMARY KEY,
    session_id      TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    consumed_at     INTEGER,
    idle_expires_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);

-- Session access tokens the server has issued (not the tokens themselves: they are JWTs).
CREATE TABLE access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    session_id TEXT    REFERENCES sessions (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX access_tokens_by_session ON access_tokens (session_id, expires_at);
CREATE INDEX access_tokens_by_client ON access_tokens (client_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

-- RFC 7009 revocation of individual JWT access tokens, kept until they would expire.
CREATE TABLE revoked_jtis (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_jtis_by_expiry ON revoked_jtis (expires_at);

-- One-time JWT ids already seen (client assertions, DPoP proofs): the primary key makes
-- "first use wins" atomic across connections and processes.
CREATE TABLE used_jtis (
    key        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_jtis_by_expiry ON used_jtis (expires_at);

-- AUTOINCREMENT so ids are never reused after retention deletes: audit pagination
-- (before_id) depends on ids growing with time.
CREATE TABLE audit_events (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    target   TEXT,
    before   TEXT,
    after    TEXT,
    ip       TEXT,
    security INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX audit_events_by_actor ON audit_events (actor, id);
CREATE INDEX audit_events_by_action ON audit_events (action, id);
CREATE INDEX audit_events_by_target ON audit_events (target, id);
CREATE INDEX audit_events_by_at ON audit_events (at);
