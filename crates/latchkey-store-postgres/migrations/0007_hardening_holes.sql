-- private_key_jwt: an assertion's aud must be the issuer as one string; this per-client
-- switch lets a client that still sends an array or an endpoint URL keep working.
ALTER TABLE clients ADD COLUMN assertion_aud_compat BOOLEAN NOT NULL DEFAULT FALSE;

-- Refresh-token grace window: only the latest spent token of a family may be retried.
-- Each token remembers the one whose rotation issued it; the latest spent token is the
-- parent of the family's live token.
ALTER TABLE refresh_tokens ADD COLUMN parent_hash BYTEA;
