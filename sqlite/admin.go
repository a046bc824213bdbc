package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.Admin = (*DB)(nil)

const threadColumns = "id, integration_id, enterprise_id, original_sender, subject, created_utc, updated_utc, is_resolved"

// insertDeliveriesSQL queues one delivery of a payload per webhook URL of an
// integration; with no URL it inserts nothing.
const insertDeliveriesSQL = `INSERT INTO webhook_deliveries
	(integration_id, url, payload, status, attempts, created_utc, next_attempt_ms)
	SELECT integration_id, url, ?, 'Pending', 0, ?, ? FROM webhooks WHERE integration_id = ?`

// queueWebhooks inserts, in tx, the deliveries that announce msgs, added to
// threads of integration (thread: enterprise), created and due at created.
func (db *DB) queueWebhooks(ctx context.Context, tx *sql.Tx, integration uuid.UUID, msgs []mews.Message, enterpriseOf map[uuid.UUID]uuid.UUID, created time.Time) error {
	enterprises, ids := mews.WebhookGroups(msgs, enterpriseOf)
	st := tx.StmtContext(ctx, db.insertDeliveries)
	for _, e := range enterprises {
		if _, err := st.ExecContext(ctx, string(mews.WebhookPayload(e, integration, ids[e])),
			created.Unix(), created.UnixMilli(), blob(integration)); err != nil {
			return fmt.Errorf("sqlite: queue webhooks: %w", err)
		}
	}
	return nil
}

// scanThread reads a row of the columns that every thread query selects, in
// their order: id, integration_id, enterprise_id, original_sender, subject,
// created_utc, updated_utc, is_resolved.
func scanThread(row interface{ Scan(...any) error }) (mews.Thread, error) {
	var t mews.Thread
	var created, updated int64
	err := row.Scan(&t.ID, &t.IntegrationID, &t.EnterpriseID, &t.OriginalSender, &t.Subject, &created, &updated, &t.IsResolved)
	t.CreatedUTC, t.UpdatedUTC = utc(created), utc(updated)
	return t, err
}

func threadNotFound(id uuid.UUID) error {
	return mews.Errorf(mews.ENOTFOUND, "MessageThreadId: no message thread %s.", id)
}

// ThreadGet returns thread id of any integration.
func (db *DB) ThreadGet(ctx context.Context, id uuid.UUID) (mews.Thread, error) {
	t, err := scanThread(db.reads.QueryRowContext(ctx, "SELECT "+threadColumns+" FROM threads WHERE id = ?", blob(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, threadNotFound(id)
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: get thread %s: %w", id, err)
	}
	return t, nil
}

// ThreadSetResolved sets IsResolved of thread id, through the writer.
func (db *DB) ThreadSetResolved(ctx context.Context, id uuid.UUID, resolved bool) (mews.Thread, error) {
	var t mews.Thread
	err := db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		var err error
		t, err = scanThread(tx.QueryRowContext(ctx,
			"UPDATE threads SET is_resolved = ? WHERE id = ? RETURNING "+threadColumns, resolved, blob(id)))
		if errors.Is(err, sql.ErrNoRows) {
			return threadNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: resolve thread %s: %w", id, err)
		}
		return nil
	})
	return t, err
}

// EnterpriseThreads returns a page of the threads of enterprise, a backward
// walk of threads_enterprise_created.
func (db *DB) EnterpriseThreads(ctx context.Context, enterprise uuid.UUID, p mews.Page) ([]mews.Thread, error) {
	if err := checkCount(p.Count); err != nil {
		return nil, err
	}
	var w where
	w.add("enterprise_id = ?", blob(enterprise))
	if p.Cursor != nil {
		pos, found, err := readPosition(ctx, db.engine, "SELECT created_utc, seq FROM threads WHERE id = ? AND enterprise_id = ?",
			[]any{blob(*p.Cursor), blob(enterprise)})
		if err != nil {
			return nil, fmt.Errorf("sqlite: find cursor thread: %w", err)
		}
		if !found {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the Id of a thread of this enterprise.", *p.Cursor)
		}
		var c created
		c.olderThan(&pos)
		c.addTo(&w)
	}
	ts, err := readThreads(ctx, db.engine, p.Count, part{"SELECT " + threadColumns + " FROM threads" + w.String() +
		" ORDER BY created_utc DESC, seq DESC " + limitParam, w.args})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get enterprise threads: %w", err)
	}
	return ts, nil
}

// Reset deletes all threads, messages and deliveries in one write.
func (db *DB) Reset(ctx context.Context) error {
	return db.writer.do(ctx, func(ctx context.Context, tx *txn) error {
		for _, table := range []string{"webhook_deliveries", "messages", "threads"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				return fmt.Errorf("sqlite: reset %s: %w", table, err)
			}
		}
		return nil
	})
}

// WebhooksSet replaces the URLs of integration in one write.
func (db *DB) WebhooksSet(ctx context.Context, integration uuid.UUID, urls []string) error {
	return db.writer.do(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM webhooks WHERE integration_id = ?", blob(integration)); err != nil {
			return fmt.Errorf("sqlite: set webhooks: %w", err)
		}
		for _, u := range urls {
			if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO webhooks (integration_id, url) VALUES (?, ?)", blob(integration), u); err != nil {
				return fmt.Errorf("sqlite: set webhooks: %w", err)
			}
		}
		return nil
	})
}

// Webhooks returns the URLs of every integration that has any, sorted.
func (db *DB) Webhooks(ctx context.Context) (map[uuid.UUID][]string, error) {
	rows, err := db.reads.QueryContext(ctx, "SELECT integration_id, url FROM webhooks ORDER BY integration_id, url")
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhooks: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID][]string)
	for rows.Next() {
		var id uuid.UUID
		var u string
		if err := rows.Scan(&id, &u); err != nil {
			return nil, fmt.Errorf("sqlite: get webhooks: %w", err)
		}
		out[id] = append(out[id], u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get webhooks: %w", err)
	}
	return out, nil
}

const deliveryColumns = `seq, integration_id, url, payload, status, attempts, created_utc,
	next_attempt_ms, last_attempt_ms, last_status, last_error`

func scanDelivery(row interface{ Scan(...any) error }) (mews.Delivery, error) {
	var d mews.Delivery
	var payload string
	var created int64
	var next, last, status sql.NullInt64
	var lastErr sql.NullString
	err := row.Scan(&d.ID, &d.IntegrationID, &d.URL, &payload, &d.Status, &d.Attempts, &created, &next, &last, &status, &lastErr)
	d.Payload, d.CreatedUTC = []byte(payload), time.Unix(created, 0).UTC() // whole seconds
	if next.Valid {
		d.NextAttemptUTC = time.UnixMilli(next.Int64).UTC()
	}
	if last.Valid {
		d.LastAttemptUTC = time.UnixMilli(last.Int64).UTC()
	}
	d.LastStatusCode, d.LastError = int(status.Int64), lastErr.String
	return d, err
}

func collectDeliveries(rows *sql.Rows, err error) ([]mews.Delivery, error) {
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	defer rows.Close()
	var ds []mews.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: deliveries: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	return ds, nil
}

// DeliveriesClaim leases due deliveries with one UPDATE ... RETURNING
// through the writer: the single writer of the file makes the claim atomic
// for every process.
func (db *DB) DeliveriesClaim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]mews.Delivery, error) {
	var ds []mews.Delivery
	err := db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		var err error
		ds, err = collectDeliveries(tx.QueryContext(ctx, `UPDATE webhook_deliveries SET next_attempt_ms = ?
			WHERE seq IN (SELECT seq FROM webhook_deliveries
				WHERE status = 'Pending' AND next_attempt_ms <= ? ORDER BY next_attempt_ms LIMIT ?)
			RETURNING `+deliveryColumns, now.Add(lease).UnixMilli(), now.UnixMilli(), n))
		return err
	})
	return ds, err
}

// DeliveryRecord records one attempt through the writer.
func (db *DB) DeliveryRecord(ctx context.Context, o mews.DeliveryOutcome) error {
	var next, status any
	if o.Status == mews.DeliveryPending {
		next = o.NextAttempt.UnixMilli()
	}
	if o.StatusCode != 0 {
		status = o.StatusCode
	}
	return db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?,
			next_attempt_ms = ?, last_attempt_ms = ?, last_status = ?, last_error = ? WHERE seq = ?`,
			string(o.Status), next, o.At.UnixMilli(), status, o.Error, o.ID); err != nil {
			return fmt.Errorf("sqlite: record delivery %d: %w", o.ID, err)
		}
		return nil
	})
}

// Deliveries returns the newest n deliveries.
func (db *DB) Deliveries(ctx context.Context, integration *uuid.UUID, n int) ([]mews.Delivery, error) {
	if integration != nil {
		return collectDeliveries(db.reads.QueryContext(ctx, "SELECT "+deliveryColumns+
			" FROM webhook_deliveries WHERE integration_id = ? ORDER BY seq DESC LIMIT ?", blob(*integration), n))
	}
	return collectDeliveries(db.reads.QueryContext(ctx, "SELECT "+deliveryColumns+
		" FROM webhook_deliveries ORDER BY seq DESC LIMIT ?", n))
}
