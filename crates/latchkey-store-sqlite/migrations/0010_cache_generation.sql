-- The read caches' generation (issue 13, token-exchange throughput): one counter row,
-- bumped inside every transaction that changes what the engine's read caches hold
-- (clients, secrets, scopes, users, keys, sessions, revocations, settings, API keys,
-- exchange policies: the writes marked `publish`, the same ones PostgreSQL publishes).
-- A grant's bookkeeping (an access-token record, an exchange's lineage, an audit row)
-- does not bump it. The files' size and mtime still say cheaply that some process
-- committed something; this row then says whether it was a change the caches care
-- about, so a server that writes on every request keeps its caches.
CREATE TABLE cache_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO cache_generation (id, n) VALUES (1, 0);
