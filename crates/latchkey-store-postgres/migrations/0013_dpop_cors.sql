-- Issue 15: browser apps (CORS) and DPoP (RFC 9449).
-- A client's web origins as a JSON list; NULL = the origins of its redirect URIs.
ALTER TABLE clients ADD COLUMN allowed_origins TEXT;
-- RFC 9449 §5.2 client metadata: token requests without a proof are refused.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
-- RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key (RFC 7638
-- thumbprint); §10: a code bound by dpop_jkt at /authorize.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT;
