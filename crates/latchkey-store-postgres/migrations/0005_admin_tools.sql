-- The admin scopes are reserved: only latchkey-console and clients an administrator
-- marks as admin tools may request them (issue 10 §3). Existing clients start unmarked,
-- so an old row that lists latchkey:admin can no longer use it until marked.
ALTER TABLE clients ADD COLUMN admin_tool BOOLEAN NOT NULL DEFAULT FALSE;
