-- Token exchange (RFC 8693, issue 13): the administrators' policies (deny by default:
-- no row, no exchange) and the lineage of every exchanged token, so revoking a token
-- revokes what was exchanged from it and the console can show the chain.

CREATE TABLE exchange_policies (
    id                        TEXT    NOT NULL PRIMARY KEY,
    enabled                   BOOLEAN NOT NULL,
    note                      TEXT    NOT NULL,
    requester_client_id       TEXT    NOT NULL,
    -- JSON lists of strings.
    subject_client_ids        TEXT    NOT NULL,
    subject_token_types       TEXT    NOT NULL,
    requester_must_be_in_subject_aud BOOLEAN NOT NULL,
    targets                   TEXT    NOT NULL,
    scopes                    TEXT    NOT NULL,
    mode                      TEXT    NOT NULL,
    actor_client_ids          TEXT    NOT NULL,
    max_ttl_secs              BIGINT  NOT NULL,
    issued_token_types        TEXT    NOT NULL,
    max_act_depth             BIGINT  NOT NULL,
    created_at                BIGINT  NOT NULL,
    updated_at                BIGINT  NOT NULL
);
CREATE INDEX exchange_policies_by_requester ON exchange_policies (requester_client_id);

CREATE TABLE token_exchanges (
    jti                 TEXT    NOT NULL PRIMARY KEY,
    parent_jti          TEXT,
    actor_jti           TEXT,
    session_id          TEXT,
    requester_client_id TEXT    NOT NULL,
    subject             TEXT    NOT NULL,
    subject_client_id   TEXT    NOT NULL,
    policy_id           TEXT    NOT NULL,
    issued_token_type   TEXT    NOT NULL,
    issued_at           BIGINT  NOT NULL,
    expires_at          BIGINT  NOT NULL
);
CREATE INDEX token_exchanges_by_parent ON token_exchanges (parent_jti);
CREATE INDEX token_exchanges_by_expiry ON token_exchanges (expires_at);
