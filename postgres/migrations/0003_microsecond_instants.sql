-- Instants to the microsecond.
--
-- From this version on, created_utc and updated_utc of threads and messages
-- hold the instant of creation and of each update to the microsecond (what
-- timestamptz holds, mews.Resolution), no longer truncated to the second.
-- The columns, the page indexes and the order by (created_utc, seq) do not
-- change, and rows stored before keep their whole seconds, so the only
-- change of the schema is what the comments below say to anyone who
-- inspects the shared database.
--
-- The version matters more than the statements: a binary refuses a schema
-- newer than its own, so once one replica has migrated, older binaries,
-- which would stamp whole seconds and so sort their adds behind adds made
-- earlier in the same second by the new ones, cannot join the fleet.

COMMENT ON COLUMN threads.created_utc IS 'Instant of creation, to the microsecond (whole seconds before schema version 3).';
COMMENT ON COLUMN threads.updated_utc IS 'CreatedUtc of the newest message, or created_utc; to the microsecond.';
COMMENT ON COLUMN messages.created_utc IS 'Instant of creation, to the microsecond (whole seconds before schema version 3).';
