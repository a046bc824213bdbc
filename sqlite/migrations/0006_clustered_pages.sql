-- Threads and messages clustered on the order of their pages.
--
-- Both become WITHOUT ROWID tables whose primary key is the order of a
-- page: threads by (integration_id, enterprise_id, created_utc, seq),
-- messages by (thread_id, created_utc, seq). A page of one enterprise (one
-- thread) is then one backward range of the table's own B-tree, with the
-- rows in it, instead of a range of an index and a lookup of each row in
-- the table. The ids stay unique through UNIQUE indexes on id, whose entries
-- carry the primary key: a cursor's position (created_utc, seq) and the
-- scope of a thread are read from the index of ids alone.
--
-- seq is no longer the rowid, which SQLite assigned: the sequences table
-- holds, for each table, the next value that no writer has reserved. A
-- writer reserves a block of values by moving the row forward inside one of
-- its write transactions, which hold the database's write lock from BEGIN
-- IMMEDIATE to COMMIT, so two processes that share the file never reserve
-- the same values (see sqlite/sequences.go). A reservation that is rolled
-- back is forgotten; values reserved and never used are skipped: seq only
-- grows, with gaps. Reset leaves the sequences as they are. (The comments
-- of 0001 and 0002 on seq as the rowid describe the schema before this
-- migration.)

-- Existing rows keep their seq, so every page and every cursor is the same
-- after the migration. The tables are copied, the old ones dropped (the
-- child first: the foreign key of messages refers to threads) and the new
-- ones renamed, which also renames the reference of messages_new to
-- threads_new; then the indexes are made again.
--
-- WITHOUT ROWID stores each row in the B-tree of the key; SQLite advises it
-- for rows smaller than about a twentieth of a page. Thread rows are
-- about 100 bytes; messages carry their text (at most a few hundred bytes
-- in practice): see docs/BENCHMARKS.md for what was measured.

CREATE TABLE sequences (
    name TEXT    PRIMARY KEY,
    next INTEGER NOT NULL CHECK (next >= 1)
) STRICT, WITHOUT ROWID;

INSERT INTO sequences (name, next) SELECT 'threads', coalesce(max(seq), 0) + 1 FROM threads;
INSERT INTO sequences (name, next) SELECT 'messages', coalesce(max(seq), 0) + 1 FROM messages;

CREATE TABLE threads_new (
    integration_id  BLOB    NOT NULL CHECK (length(integration_id) = 16),
    enterprise_id   BLOB    NOT NULL CHECK (length(enterprise_id) = 16),
    created_utc     INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    id              BLOB    NOT NULL CHECK (length(id) = 16),
    original_sender TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    updated_utc     INTEGER NOT NULL CHECK (updated_utc >= created_utc),
    is_resolved     INTEGER NOT NULL CHECK (is_resolved IN (0, 1)),
    PRIMARY KEY (integration_id, enterprise_id, created_utc, seq)
) STRICT, WITHOUT ROWID;

INSERT INTO threads_new (integration_id, enterprise_id, created_utc, seq, id, original_sender, subject, updated_utc, is_resolved)
    SELECT integration_id, enterprise_id, created_utc, seq, id, original_sender, subject, updated_utc, is_resolved
    FROM threads ORDER BY integration_id, enterprise_id, created_utc, seq;

CREATE TABLE messages_new (
    thread_id   BLOB    NOT NULL REFERENCES threads_new (id),
    created_utc INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    id          BLOB    NOT NULL CHECK (length(id) = 16),
    text        TEXT    NOT NULL,
    sender      TEXT    NOT NULL CHECK (sender IN ('Application', 'Enterprise')),
    PRIMARY KEY (thread_id, created_utc, seq)
) STRICT, WITHOUT ROWID;

-- The UNIQUE index on threads_new (id) must exist before rows refer to it.
CREATE UNIQUE INDEX threads_id ON threads_new (id);

INSERT INTO messages_new (thread_id, created_utc, seq, id, text, sender)
    SELECT thread_id, created_utc, seq, id, text, sender
    FROM messages ORDER BY thread_id, created_utc, seq;

DROP TABLE messages;
DROP TABLE threads;
ALTER TABLE threads_new RENAME TO threads;
ALTER TABLE messages_new RENAME TO messages;

-- Ids are unique; each entry also holds the row's primary key.
CREATE UNIQUE INDEX messages_id ON messages (id);
-- The admin API's threads of an enterprise, of every integration, newest
-- first. seq is named so that the entries are in page order; the key's
-- integration_id follows it.
CREATE INDEX threads_enterprise_created ON threads (enterprise_id, created_utc, seq);
