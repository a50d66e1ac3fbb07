-- Runtime settings (token lifetimes, key rotation, brute-force limits): only the values
-- an administrator set, as a JSON object by name; every other setting takes the server's
-- configured default. One row. `version` moves on every write, so a write based on an
-- older read is refused instead of silently undoing a concurrent one.

CREATE TABLE settings (
    id         SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    overrides  TEXT     NOT NULL,
    version    BIGINT   NOT NULL,
    updated_at BIGINT   NOT NULL
);

INSERT INTO settings (id, overrides, version, updated_at) VALUES (1, '{}', 0, 0);
