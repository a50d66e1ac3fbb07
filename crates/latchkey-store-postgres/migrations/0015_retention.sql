-- Retention (issue 16): the leader's clean-up removes sessions, sign-ins, audit events
-- and issuance counts once they are older than the retention settings, a few hundred
-- rows per transaction. These indexes let each batch find its rows without a scan, so
-- a batch holds the write lock for milliseconds whatever the table's size.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sign_ins_by_expiry ON sign_ins (expires_at);
CREATE INDEX sign_ins_by_ended ON sign_ins (ended_at);
