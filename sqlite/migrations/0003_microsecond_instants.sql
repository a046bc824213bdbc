-- Instants to the microsecond.
--
-- created_utc and updated_utc of threads and messages become microseconds
-- since the Unix epoch, UTC (mews.Resolution): the instant of creation and
-- of each update as the server's clock gave it, no longer truncated to the
-- second. Rows stored before keep their whole seconds (the same instants,
-- counted in microseconds). The columns stay INTEGER, so the page indexes
-- and their order by (created_utc, seq) are unchanged.
--
-- webhook_deliveries keeps its own units (created_utc in seconds, the
-- attempt times in milliseconds).

UPDATE threads SET created_utc = created_utc * 1000000, updated_utc = updated_utc * 1000000;
UPDATE messages SET created_utc = created_utc * 1000000;
