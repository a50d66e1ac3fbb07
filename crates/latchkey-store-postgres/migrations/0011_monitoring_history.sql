-- Anomaly detections 3–9 (issue 14): what they need of the history the store holds.

-- Detection 7: the first time each client minted with each grant type and scope. The
-- primary key makes "first use" atomic across nodes: exactly one insert wins.
CREATE TABLE client_usage (
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (client_id, kind, value)
);

-- Detection 5: who obtained each refresh token (the request that rotated its parent),
-- so a replay of the parent can be compared with the family's legitimate holder.
ALTER TABLE refresh_tokens ADD COLUMN ip TEXT;
ALTER TABLE refresh_tokens ADD COLUMN user_agent TEXT;

-- Detection 4: a sign-in judged unfamiliar (shown on it, its sessions and its user).
ALTER TABLE sign_ins ADD COLUMN unfamiliar BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sign_ins_by_user_created ON sign_ins (user_id, created_at);

-- Detection 3 counts failed sign-ins per hour; detection 7 reads a client's minutes.
CREATE INDEX audit_events_by_action_at ON audit_events (action, at);
CREATE INDEX token_stats_by_client ON token_stats (client_id, minute);
