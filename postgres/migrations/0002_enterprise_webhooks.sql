-- The enterprise side and the webhook outbox.
--
-- The admin API's list of the threads of an enterprise (every integration)
-- has no index of its own: with an index on (enterprise_id, created_utc,
-- seq) the planner used it for the API's scope pages too, instead of
-- threads_scope_created (plan_test.go), and those pages are the hot path;
-- the admin list is a tool for tests and reads the enterprise's rows.
--
-- webhooks holds the MessageAdded webhook URLs of each integration (from
-- the token configuration at start, or the admin API).
--
-- webhook_deliveries is the outbox: one row per webhook and URL, inserted in
-- the transaction that adds the messages, so an acknowledged messages/add
-- has its webhooks durably queued. Dispatchers of any number of processes
-- claim due rows with FOR UPDATE SKIP LOCKED and move next_attempt_utc
-- forward (a lease), so that no two of them send the same row at once.

CREATE TABLE webhooks (
    integration_id uuid NOT NULL,
    url            text NOT NULL,
    PRIMARY KEY (integration_id, url)
);

CREATE TABLE webhook_deliveries (
    seq              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id   uuid        NOT NULL,
    url              text        NOT NULL,
    payload          text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('Pending', 'Delivered', 'Failed')),
    attempts         integer     NOT NULL,
    created_utc      timestamptz NOT NULL,
    next_attempt_utc timestamptz,
    last_attempt_utc timestamptz,
    last_status      integer,
    last_error       text
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_utc) WHERE status = 'Pending';
CREATE INDEX webhook_deliveries_integration ON webhook_deliveries (integration_id, seq);
