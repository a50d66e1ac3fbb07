-- Latchkey schema, version 1, for PostgreSQL. The same tables, columns and indexes as
-- the SQLite store's migration of the same name, with PostgreSQL's types: BIGINT for
-- Unix-second timestamps and counts, BOOLEAN for flags, BYTEA for hashes. Lists stay
-- JSON array text so both stores share one row mapping.
--
-- One addition SQLite does not need: `cache_generation`, a single counter row bumped
-- (and announced with pg_notify) in the transaction of every change that a node's read
-- caches depend on, so a node that missed a notification still sees the change by
-- polling one row.

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    email               TEXT,
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    name                TEXT,
    password_hash       TEXT    NOT NULL,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    is_admin            BOOLEAN NOT NULL DEFAULT FALSE,
    password_changed_at BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL
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
    access_token_ttl          BIGINT  NOT NULL,
    refresh_token_ttl         BIGINT  NOT NULL,
    refresh_idle_ttl          BIGINT  NOT NULL,
    refresh_grace_secs        BIGINT  NOT NULL,
    require_consent           BOOLEAN NOT NULL,
    disabled                  BOOLEAN NOT NULL,
    tokens_valid_after        BIGINT  NOT NULL,
    created_at                BIGINT  NOT NULL,
    updated_at                BIGINT  NOT NULL
);

CREATE TABLE client_secrets (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    hash       BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT 
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id, created_at);

CREATE TABLE scopes (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    claims      TEXT    NOT NULL,
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY,
    alg          TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    public_jwk   TEXT    NOT NULL,
    private_enc  BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    activated_at BIGINT ,
    retiring_at  BIGINT ,
    retired_at   BIGINT ,
    revoked_at   BIGINT 
);

CREATE TABLE sign_ins (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  BIGINT  NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    ended_at   BIGINT 
);
CREATE INDEX sign_ins_by_user ON sign_ins (user_id);

CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_by_client ON consents (client_id);

CREATE TABLE auth_requests (
    id          TEXT    NOT NULL PRIMARY KEY,
    params      TEXT    NOT NULL,
    sign_in_id  TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    consumed_at BIGINT 
);
CREATE INDEX auth_requests_by_expiry ON auth_requests (expires_at);
CREATE INDEX auth_requests_by_sign_in ON auth_requests (sign_in_id);

CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sign_in_id     TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    scopes         TEXT    NOT NULL,
    auth_time      BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    last_used_at   BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    ip             TEXT,
    user_agent     TEXT,
    revoked_at     BIGINT ,
    revoked_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
CREATE INDEX sessions_by_client ON sessions (client_id, created_at);
CREATE INDEX sessions_by_created ON sessions (created_at);
CREATE INDEX sessions_by_sign_in ON sessions (sign_in_id);

-- session_id is filled in by the redemption, in the same transaction that inserts the
-- session, so its foreign key is checked at commit rather than at the UPDATE.
CREATE TABLE auth_codes (
    hash              BYTEA   NOT NULL PRIMARY KEY,
    client_id         TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id           TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sign_in_id        TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    redirect_uri      TEXT    NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    scopes            TEXT    NOT NULL,
    nonce             TEXT,
    code_challenge    TEXT,
    auth_time         BIGINT  NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    consumed_at       BIGINT ,
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
    hash           BYTEA   NOT NULL PRIMARY KEY,
    user_code_hash BYTEA   NOT NULL UNIQUE,
    client_id      TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes         TEXT    NOT NULL,
    status         TEXT    NOT NULL
                           CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    user_id        TEXT    REFERENCES users (id) ON DELETE CASCADE,
    sign_in_id     TEXT    REFERENCES sign_ins (id) ON DELETE SET NULL,
    auth_time      BIGINT ,
    poll_interval  BIGINT  NOT NULL,
    last_polled_at BIGINT ,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    session_id     TEXT    REFERENCES sessions (id) ON DELETE SET NULL
                           DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX device_codes_by_client ON device_codes (client_id);
CREATE INDEX device_codes_by_user ON device_codes (user_id);
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at);
CREATE INDEX device_codes_by_sign_in ON device_codes (sign_in_id);
CREATE INDEX device_codes_by_session ON device_codes (session_id);

CREATE TABLE refresh_tokens (
    hash            BYTEA   NOT NULL PRIMARY KEY,
    session_id      TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    created_at      BIGINT  NOT NULL,
    consumed_at     BIGINT ,
    idle_expires_at BIGINT  NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (client_id);

-- Session access tokens the server has issued (not the tokens themselves: they are JWTs).
CREATE TABLE access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    session_id TEXT    REFERENCES sessions (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    issued_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX access_tokens_by_session ON access_tokens (session_id, expires_at);
CREATE INDEX access_tokens_by_client ON access_tokens (client_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

-- RFC 7009 revocation of individual JWT access tokens, kept until they would expire.
CREATE TABLE revoked_jtis (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX revoked_jtis_by_expiry ON revoked_jtis (expires_at);

-- One-time JWT ids already seen (client assertions, DPoP proofs): the primary key makes
-- "first use wins" atomic across connections and processes.
CREATE TABLE used_jtis (
    key        TEXT    NOT NULL PRIMARY KEY,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX used_jtis_by_expiry ON used_jtis (expires_at);

-- An identity column so ids are never reused after retention deletes: audit pagination
-- (before_id) depends on ids growing with time.
CREATE TABLE audit_events (
    id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       BIGINT  NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    target   TEXT,
    before   TEXT,
    after    TEXT,
    ip       TEXT,
    security BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX audit_events_by_actor ON audit_events (actor, id);
CREATE INDEX audit_events_by_action ON audit_events (action, id);
CREATE INDEX audit_events_by_target ON audit_events (target, id);
CREATE INDEX audit_events_by_at ON audit_events (at);

CREATE TABLE cache_generation (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO cache_generation (id, n) VALUES (1, 0);
