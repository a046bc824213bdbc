-- Message threads and their messages.
--
-- Identifiers are uuid: 16 bytes in every row and index entry, and readable
-- in psql.
--
-- Times are timestamptz holding whole seconds (the engine truncates before
-- writing): the same 8 bytes as a count of seconds, but self-describing to
-- anyone who inspects the shared database, and compared as instants
-- whatever the session's time zone.
--
-- The free-text fields (original_sender, subject, text) are bytea, the UTF-8
-- bytes of the string: text cannot hold U+0000, which JSON allows and the
-- API accepts; bytea round-trips every string exactly, as SQLite does.
--
-- seq is the insertion order, drawn from one sequence in the database, so
-- every server process that shares the database agrees on it. It breaks ties
-- between items created in the same second: pages run by (created_utc, seq)
-- descending, a total order fixed at insert, since rows are never updated
-- in those columns nor deleted. It is the last column of the page indexes,
-- so they serve both the ORDER BY and the row-value cursor comparison
-- "(created_utc, seq) < ($1, $2)" as one index range.
--
-- No CREATE ... IF NOT EXISTS: a migration applied twice must fail loudly.

CREATE TABLE threads (
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    id              uuid        PRIMARY KEY,
    integration_id  uuid        NOT NULL,
    enterprise_id   uuid        NOT NULL,
    original_sender bytea       NOT NULL,
    subject         bytea       NOT NULL,
    created_utc     timestamptz NOT NULL,
    updated_utc     timestamptz NOT NULL CHECK (updated_utc >= created_utc),
    is_resolved     boolean     NOT NULL
);

-- Pages of threads: a client sees only its own threads in its enterprises,
-- newest first. The Updated filter uses it too, through the derived bound
-- created_utc <= Updated.End.
CREATE INDEX threads_scope_created ON threads (integration_id, enterprise_id, created_utc, seq);

CREATE TABLE messages (
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    id          uuid        PRIMARY KEY,
    thread_id   uuid        NOT NULL REFERENCES threads (id),
    text        bytea       NOT NULL,
    sender      text        NOT NULL CHECK (sender IN ('Application', 'Enterprise')),
    created_utc timestamptz NOT NULL
);

-- Pages of messages of a thread, newest first; also the index that the
-- foreign key needs.
CREATE INDEX messages_thread_created ON messages (thread_id, created_utc, seq);
