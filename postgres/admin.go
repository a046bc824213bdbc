package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.Admin = (*DB)(nil)

// insertDeliveriesSQL queues one delivery of a payload per webhook URL of an
// integration; with no URL it inserts nothing.
const insertDeliveriesSQL = `INSERT INTO webhook_deliveries
	(integration_id, url, payload, status, attempts, created_utc, next_attempt_utc)
	SELECT integration_id, url, $1, 'Pending', 0, $2, $2 FROM webhooks WHERE integration_id = $3`

// queueWebhooks adds to b, the batch of MessagesAdd, the deliveries that
// announce msgs, added to threads of integration (thread: enterprise),
// created and due at created.
func queueWebhooks(b *pgx.Batch, integration uuid.UUID, msgs []mews.Message, enterpriseOf map[uuid.UUID]uuid.UUID, created time.Time) {
	enterprises, ids := mews.WebhookGroups(msgs, enterpriseOf)
	for _, e := range enterprises {
		b.Queue(insertDeliveriesSQL, string(mews.WebhookPayload(e, integration, ids[e])), second(created), integration)
	}
}

func threadNotFound(id uuid.UUID) error {
	return mews.Errorf(mews.ENOTFOUND, "MessageThreadId: no message thread %s.", id)
}

func oneThread(rows pgx.Rows, err error, id uuid.UUID) (mews.Thread, error) {
	if err != nil {
		return mews.Thread{}, fmt.Errorf("postgres: thread %s: %w", id, err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanThread)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, threadNotFound(id)
	}
	if err != nil {
		return t, fmt.Errorf("postgres: thread %s: %w", id, err)
	}
	return t, nil
}

// ThreadGet returns thread id of any integration.
func (db *DB) ThreadGet(ctx context.Context, id uuid.UUID) (mews.Thread, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+threadColumns+" FROM threads WHERE id = $1", id)
	return oneThread(rows, err, id)
}

// ThreadSetResolved sets IsResolved of thread id.
func (db *DB) ThreadSetResolved(ctx context.Context, id uuid.UUID, resolved bool) (mews.Thread, error) {
	rows, err := db.pool.Query(ctx, "UPDATE threads SET is_resolved = $1 WHERE id = $2 RETURNING "+threadColumns, resolved, id)
	return oneThread(rows, err, id)
}

// EnterpriseThreads returns a page of the threads of enterprise. It has no
// index of its own (see migration 0002): a tool for tests, not a hot path.
func (db *DB) EnterpriseThreads(ctx context.Context, enterprise uuid.UUID, p mews.Page) ([]mews.Thread, error) {
	if err := checkCount(p.Count); err != nil {
		return nil, err
	}
	var w where
	w.add("enterprise_id = " + w.arg(enterprise))
	if p.Cursor != nil {
		var pos position
		err := db.pool.QueryRow(ctx, "SELECT created_utc, seq FROM threads WHERE id = $1 AND enterprise_id = $2",
			*p.Cursor, enterprise).Scan(&pos.created, &pos.seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the Id of a thread of this enterprise.", *p.Cursor)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: find cursor thread: %w", err)
		}
		w.olderThan(&pos)
	}
	q := "SELECT " + threadColumns + " FROM threads" + w.String() +
		" ORDER BY created_utc DESC, seq DESC LIMIT " + w.arg(p.Count)
	rows, err := db.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: get enterprise threads: %w", err)
	}
	ts, err := pgx.AppendRows([]mews.Thread(nil), rows, scanThread)
	if err != nil {
		return nil, fmt.Errorf("postgres: get enterprise threads: %w", err)
	}
	return ts, nil
}

// Reset deletes all threads, messages and deliveries in one transaction.
func (db *DB) Reset(ctx context.Context) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, table := range []string{"webhook_deliveries", "messages", "threads"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table); err != nil {
				return fmt.Errorf("postgres: reset %s: %w", table, err)
			}
		}
		return nil
	})
}

// WebhooksSet replaces the URLs of integration in one transaction.
func (db *DB) WebhooksSet(ctx context.Context, integration uuid.UUID, urls []string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM webhooks WHERE integration_id = $1", integration); err != nil {
			return fmt.Errorf("postgres: set webhooks: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO webhooks (integration_id, url) SELECT $1, u FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING",
			integration, urls); err != nil {
			return fmt.Errorf("postgres: set webhooks: %w", err)
		}
		return nil
	})
}

// Webhooks returns the URLs of every integration that has any, sorted.
func (db *DB) Webhooks(ctx context.Context) (map[uuid.UUID][]string, error) {
	rows, err := db.pool.Query(ctx, "SELECT integration_id, url FROM webhooks ORDER BY integration_id, url")
	if err != nil {
		return nil, fmt.Errorf("postgres: get webhooks: %w", err)
	}
	out := make(map[uuid.UUID][]string)
	var id uuid.UUID
	var u string
	if _, err := pgx.ForEachRow(rows, []any{&id, &u}, func() error {
		out[id] = append(out[id], u)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: get webhooks: %w", err)
	}
	return out, nil
}

const deliveryColumns = `d.seq, d.integration_id, d.url, d.payload, d.status, d.attempts, d.created_utc,
	d.next_attempt_utc, d.last_attempt_utc, d.last_status, d.last_error`

func scanDelivery(row pgx.CollectableRow) (mews.Delivery, error) {
	var d mews.Delivery
	var payload string
	var next, last *time.Time
	var status *int32
	var lastErr *string
	err := row.Scan(&d.ID, &d.IntegrationID, &d.URL, &payload, &d.Status, &d.Attempts, &d.CreatedUTC, &next, &last, &status, &lastErr)
	d.Payload, d.CreatedUTC = []byte(payload), utc(d.CreatedUTC)
	if next != nil {
		d.NextAttemptUTC = next.UTC()
	}
	if last != nil {
		d.LastAttemptUTC = last.UTC()
	}
	if status != nil {
		d.LastStatusCode = int(*status)
	}
	if lastErr != nil {
		d.LastError = *lastErr
	}
	return d, err
}

func collectDeliveries(rows pgx.Rows, err error) ([]mews.Delivery, error) {
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	ds, err := pgx.AppendRows([]mews.Delivery(nil), rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("postgres: deliveries: %w", err)
	}
	return ds, nil
}

// DeliveriesClaim leases due deliveries in one statement. SKIP LOCKED: a
// row that another process is claiming at this moment is left to it, not
// waited for, and the lease keeps it from being claimed again once that
// process commits.
func (db *DB) DeliveriesClaim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]mews.Delivery, error) {
	return collectDeliveries(db.pool.Query(ctx, `UPDATE webhook_deliveries d SET next_attempt_utc = $1
		FROM (SELECT seq FROM webhook_deliveries
			WHERE status = 'Pending' AND next_attempt_utc <= $2
			ORDER BY next_attempt_utc LIMIT $3 FOR UPDATE SKIP LOCKED) c
		WHERE d.seq = c.seq RETURNING `+deliveryColumns, now.Add(lease), now, n))
}

// DeliveryRecord records one attempt.
func (db *DB) DeliveryRecord(ctx context.Context, o mews.DeliveryOutcome) error {
	var next *time.Time
	if o.Status == mews.DeliveryPending {
		next = &o.NextAttempt
	}
	var status *int
	if o.StatusCode != 0 {
		status = &o.StatusCode
	}
	if _, err := db.pool.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1,
		next_attempt_utc = $2, last_attempt_utc = $3, last_status = $4, last_error = $5 WHERE seq = $6`,
		string(o.Status), next, o.At, status, o.Error, o.ID); err != nil {
		return fmt.Errorf("postgres: record delivery %d: %w", o.ID, err)
	}
	return nil
}

// Deliveries returns the newest n deliveries.
func (db *DB) Deliveries(ctx context.Context, integration *uuid.UUID, n int) ([]mews.Delivery, error) {
	if integration != nil {
		return collectDeliveries(db.pool.Query(ctx, "SELECT "+deliveryColumns+
			" FROM webhook_deliveries d WHERE d.integration_id = $1 ORDER BY d.seq DESC LIMIT $2", *integration, n))
	}
	return collectDeliveries(db.pool.Query(ctx, "SELECT "+deliveryColumns+
		" FROM webhook_deliveries d ORDER BY d.seq DESC LIMIT $1", n))
}
