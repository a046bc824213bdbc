-- The enterprise side and the webhook outbox.
--
-- threads_enterprise_created serves the admin API's list of the threads of
-- an enterprise, of every integration, newest first.
--
-- webhooks holds the MessageAdded webhook URLs of each integration (from
-- the token configuration at start, or the admin API).
--
-- webhook_deliveries is the outbox: one row per webhook and URL, inserted in
-- the transaction that adds the messages, so an acknowledged messages/add
-- has its webhooks durably queued. The dispatcher claims due rows by moving
-- next_attempt_ms forward (a lease), and records each attempt. Times of
-- attempts are milliseconds since the Unix epoch: retries may be sub-second.
-- Reset deletes all rows of threads, messages and deliveries; seq may then
-- start again from 1, which keeps the order of what is stored afterwards.

CREATE INDEX threads_enterprise_created ON threads (enterprise_id, created_utc);

CREATE TABLE webhooks (
    integration_id BLOB NOT NULL CHECK (length(integration_id) = 16),
    url            TEXT NOT NULL,
    PRIMARY KEY (integration_id, url)
) STRICT, WITHOUT ROWID;

CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY,
    integration_id  BLOB    NOT NULL CHECK (length(integration_id) = 16),
    url             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('Pending', 'Delivered', 'Failed')),
    attempts        INTEGER NOT NULL,
    created_utc     INTEGER NOT NULL,
    next_attempt_ms INTEGER,
    last_attempt_ms INTEGER,
    last_status     INTEGER,
    last_error      TEXT
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'Pending';
CREATE INDEX webhook_deliveries_integration ON webhook_deliveries (integration_id, seq);
