-- Anomaly monitoring (issue 14): findings the detections raise, and the address blocks
-- that enforce mode and administrators add.

-- A finding is raised once per rule, subject and episode across every node: the
-- detections of several nodes compute the same `dedup_key`, and the unique constraint
-- lets exactly one insert win (the others update the evidence of the winner).
CREATE TABLE findings (
    id           TEXT PRIMARY KEY,
    dedup_key    TEXT NOT NULL UNIQUE,
    rule         TEXT NOT NULL,
    severity     TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject      TEXT NOT NULL,
    evidence     TEXT NOT NULL,
    action       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    acked_by     TEXT,
    acked_at     INTEGER,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    raised_at    INTEGER NOT NULL
);
CREATE INDEX findings_raised ON findings (raised_at, id);
CREATE INDEX findings_open ON findings (rule, subject, status, last_seen);

-- An address or network (`cidr`, canonical `a.b.c.d/n` or `x::/n`) refused at sign-in
-- and at the token endpoints until `expires_at` (NULL: until removed). `principal`
-- narrows it to one account or client from there (`user:NAME`, `client:ID`); '' is
-- everyone from there. A pair block is what a brute force on one account earns, so a
-- stranger elsewhere cannot lock that account out.
CREATE TABLE blocks (
    cidr       TEXT NOT NULL,
    principal  TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (cidr, principal)
);
