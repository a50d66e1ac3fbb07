-- Same file name as SQLite's 0010 (a test keeps the two lists equal). PostgreSQL has
-- had its `cache_generation` row since 0001 (bumped by every `publish` write, with
-- `pg_notify`); SQLite gains the same row in its 0010. Nothing to change here.
SELECT 1;
