-- RFC 8707 §2: the resource indicators an authorization request (or a device
-- authorization request) named travel with the code and then with the session (the
-- grant), so a token request without `resource` gets the grant's audiences and one with
-- `resource` may only narrow them, on the first redemption and on every refresh.
-- A JSON list like `scopes`; '[]' is a grant that named no resource (today's rows).
ALTER TABLE auth_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE device_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sessions ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

-- RFC 8693 + issue 13: a refresh token an exchange issues (only when a policy allows it)
-- lives in a session of its own, for the requester, derived from the subject token's
-- session and the subject token itself. The engine treats a derived session as live only
-- while what it came from is (checked on every use, so every way of revoking the
-- subject, present and future, reaches it).
ALTER TABLE sessions ADD COLUMN parent_session_id TEXT;
ALTER TABLE sessions ADD COLUMN parent_jti TEXT;
