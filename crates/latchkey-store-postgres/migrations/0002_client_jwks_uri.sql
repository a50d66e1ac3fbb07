-- private_key_jwt clients may publish their keys at a URL instead of registering them
-- inline (RFC 7591 §2 jwks_uri); the two are mutually exclusive.
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
