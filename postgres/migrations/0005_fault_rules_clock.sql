-- What steers a test: targeted fault rules and the state of the clock,
-- shared by every process on the database.
--
-- fault_rules: the rules of the admin API's faults/add, struck in the order
-- of id. remaining counts down to 0 (used up; the row stays until
-- faults/clear, so that faults/getAll shows what was struck); a strike is
-- one conditional UPDATE (remaining > 0), so two processes never both take
-- the last one. token is the SHA-256 digest of the AccessToken a rule is
-- limited to (NULL: every caller), token_masked its masked form: the token
-- itself is never stored.
--
-- clock: at most one row, the state of the server's clock (package clock).
-- frozen_at is the frozen instant (NULL when running), offset_us the offset
-- of a running clock from the wall clock; version counts changes, and every
-- change is a compare-and-swap on it.

CREATE TABLE fault_rules (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation    text        NOT NULL,
    count        integer     NOT NULL CHECK (count >= 1),
    remaining    integer     NOT NULL CHECK (remaining BETWEEN 0 AND count),
    token        bytea       CHECK (length(token) = 32),
    token_masked text,
    status       integer,
    message      text,
    retry_after  integer,
    delay_ms     integer,
    created_utc  timestamptz NOT NULL
);

-- The rules with strikes left, in order: what a request looks through.
CREATE INDEX fault_rules_live ON fault_rules (operation, id) WHERE remaining > 0;

CREATE TABLE clock (
    one       integer     PRIMARY KEY CHECK (one = 1),
    frozen_at timestamptz,
    offset_us bigint      NOT NULL,
    version   bigint      NOT NULL
);
