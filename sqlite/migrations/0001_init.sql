-- Message threads and their messages.
--
-- Identifiers are 16-byte BLOBs (the raw bytes of the UUID): less than half
-- the size of their text form in every row and every index entry, and byte
-- order is all that equality and uniqueness need. Read them with hex(id).
--
-- Times are whole seconds since the Unix epoch, UTC: the API's precision.
--
-- seq is the rowid: the insertion order, which breaks ties between items
-- created in the same second. Rows are never deleted, so it only grows.
-- Every index entry of a rowid table ends with the rowid, so an index on
-- (..., created_utc) is ordered by (..., created_utc, seq): it serves
-- "ORDER BY created_utc DESC, seq DESC" and the cursor comparison without
-- repeating seq in its key.
--
-- No CREATE ... IF NOT EXISTS: a migration applied twice must fail loudly.

CREATE TABLE threads (
    seq             INTEGER PRIMARY KEY,
    id              BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    integration_id  BLOB    NOT NULL CHECK (length(integration_id) = 16),
    enterprise_id   BLOB    NOT NULL CHECK (length(enterprise_id) = 16),
    original_sender TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    created_utc     INTEGER NOT NULL,
    updated_utc     INTEGER NOT NULL CHECK (updated_utc >= created_utc),
    is_resolved     INTEGER NOT NULL CHECK (is_resolved IN (0, 1))
) STRICT;

-- Pages of threads: a client sees only its own threads in its enterprises,
-- newest first. The Updated filter uses it too, through the derived bound
-- created_utc <= Updated.End.
CREATE INDEX threads_scope_created ON threads (integration_id, enterprise_id, created_utc);

CREATE TABLE messages (
    seq         INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    thread_id   BLOB    NOT NULL REFERENCES threads (id),
    text        TEXT    NOT NULL,
    sender      TEXT    NOT NULL CHECK (sender IN ('Application', 'Enterprise')),
    created_utc INTEGER NOT NULL
) STRICT;

-- Pages of messages of a thread, newest first; also the index that the
-- foreign key needs.
CREATE INDEX messages_thread_created ON messages (thread_id, created_utc);
