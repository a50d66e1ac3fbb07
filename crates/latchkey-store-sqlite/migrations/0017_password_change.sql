-- Issue 12: an administrator who sets a user's password may require the user to choose
-- their own at the next sign-in. While set, a correct password leads only to the
-- change-password page, never to a usable sign-in; the user's own change clears it.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
