-- Webhooks (issue 14): endpoints told of findings, and the queue of their deliveries,
-- shared by every node on the database.

CREATE TABLE webhooks (
    id                   TEXT    NOT NULL PRIMARY KEY,
    name                 TEXT    NOT NULL,
    url                  TEXT    NOT NULL,
    -- The signing secret sealed under the KEK (AES-256-GCM, the id as associated data).
    secret_enc           BYTEA   NOT NULL,
    -- JSON lists of strings; [] is "every severity" / "every rule".
    severities           TEXT    NOT NULL,
    rules                TEXT    NOT NULL,
    enabled              BOOLEAN NOT NULL,
    created_at           BIGINT NOT NULL,
    created_by           TEXT    NOT NULL,
    updated_at           BIGINT NOT NULL,
    -- Findings raised from here on (less an overlap for other nodes' clocks) are queued.
    cursor_at            BIGINT NOT NULL,
    last_success_at      BIGINT,
    last_failure_at      BIGINT,
    last_failure_reason  TEXT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0
);

-- One row per (webhook, finding): the unique pair is the claim that makes several nodes
-- queue a finding once (INSERT … ON CONFLICT DO NOTHING); `claimed_by`/`claimed_until`
-- is the lease that makes one node send it. The id is the `webhook-id` header.
CREATE TABLE webhook_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    finding_id      TEXT    NOT NULL,
    seq_at          BIGINT NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (webhook_id, finding_id)
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook_id, state, seq_at, finding_id);
