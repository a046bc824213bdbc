-- What steers a test: targeted fault rules and the state of the clock.
--
-- fault_rules: the rules of the admin API's faults/add, struck in the order
-- of id. remaining counts down to 0 (used up; the row stays until
-- faults/clear, so that faults/getAll shows what was struck). token is the
-- SHA-256 digest of the AccessToken a rule is limited to (NULL: every
-- caller), token_masked its masked form for display: the token itself is
-- never stored. created_us is microseconds since the Unix epoch.
--
-- clock: at most one row, the state of the server's clock (package clock).
-- frozen_at_us is the frozen instant (NULL when running), offset_us the
-- offset of a running clock from the wall clock; version counts changes.

CREATE TABLE fault_rules (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    operation    TEXT    NOT NULL,
    count        INTEGER NOT NULL CHECK (count >= 1),
    remaining    INTEGER NOT NULL CHECK (remaining BETWEEN 0 AND count),
    token        BLOB    CHECK (length(token) = 32),
    token_masked TEXT,
    status       INTEGER,
    message      TEXT,
    retry_after  INTEGER,
    delay_ms     INTEGER,
    created_us   INTEGER NOT NULL
) STRICT;

-- The rules with strikes left, in order: what a request looks through.
CREATE INDEX fault_rules_live ON fault_rules (operation, id) WHERE remaining > 0;

CREATE TABLE clock (
    one          INTEGER PRIMARY KEY CHECK (one = 1),
    frozen_at_us INTEGER,
    offset_us    INTEGER NOT NULL,
    version      INTEGER NOT NULL
) STRICT;
