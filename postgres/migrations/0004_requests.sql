-- The request journal (issue 12): the newest API requests of every replica
-- and what they were answered, for tests that check what an application
-- sent. Diagnostic data: written in batches off the request path, pruned
-- to the newest N by seq. Filters may read the whole (bounded) table; only
-- the order of pages and the cursor's lookup have indexes.
CREATE TABLE requests (
    seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id        uuid NOT NULL UNIQUE,
    created_utc       timestamptz NOT NULL,
    method            text NOT NULL,
    operation         text NOT NULL,
    integration_id    uuid,
    integration_name  text NOT NULL,
    enterprise_ids    uuid[] NOT NULL,
    access_token      text NOT NULL,   -- masked
    access_token_hash bytea,           -- SHA-256 of the full token
    status            integer NOT NULL,
    duration_us       bigint NOT NULL,
    request_body      text,
    response_body     text,
    truncated         boolean NOT NULL,
    message           text NOT NULL,
    thread_ids        uuid[] NOT NULL
);
CREATE INDEX requests_order ON requests (created_utc, seq);
