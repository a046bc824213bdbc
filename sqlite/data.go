package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// DataImport stores an import in one write (see mews.Data): it looks up the
// items that are stored already, lets mews.PlanImport apply the rules, and
// inserts the rest in the order given, so that seq keeps that order.
func (db *DB) DataImport(ctx context.Context, threads []mews.Thread, msgs []mews.Message, webhooksAt *time.Time) (mews.ImportCounts, error) {
	var counts mews.ImportCounts
	err := db.writer.do(ctx, func(ctx context.Context, tx *txn) error {
		stored, storedMsgs, err := importLookups(ctx, tx.Tx, threads, msgs)
		if err != nil {
			return err
		}
		plan, err := mews.PlanImport(threads, msgs, stored, storedMsgs)
		if err != nil {
			return err
		}
		if err := db.addThreads(ctx, tx, plan.Threads...); err != nil {
			return err
		}
		if len(plan.Messages) > 0 {
			if err := db.addMessages(ctx, tx, plan.Messages); err != nil {
				return err
			}
		}
		for id, at := range plan.Touch {
			if _, err := tx.ExecContext(ctx, "UPDATE threads SET updated_utc = max(updated_utc, ?) WHERE id = ?",
				micros(at), blob(id)); err != nil {
				return fmt.Errorf("sqlite: import: update thread %s: %w", id, err)
			}
		}
		if webhooksAt != nil && len(plan.Messages) > 0 {
			integrations, batches, enterpriseOf := plan.WebhookBatches()
			for _, in := range integrations {
				if err := db.queueWebhooks(ctx, tx.Tx, in, batches[in], enterpriseOf, *webhooksAt); err != nil {
					return err
				}
			}
		}
		counts = plan.Counts
		return nil
	})
	return counts, err
}

// importLookups returns the threads of the import (and the threads its
// messages name) that are stored, and the stored messages of the import
// with their threads: one query per table, whatever the number of items,
// each joining the ids it is given (jsonIDs) to the table's index of ids.
// CROSS JOIN keeps the list the outer loop: a search of the index per id.
func importLookups(ctx context.Context, tx *sql.Tx, threads []mews.Thread, msgs []mews.Message) (map[uuid.UUID]mews.StoredThread, map[uuid.UUID]uuid.UUID, error) {
	threadIDs := make([]uuid.UUID, 0, len(threads)+1)
	listed := make(map[uuid.UUID]bool, len(threads)+1)
	add := func(id uuid.UUID) {
		if !listed[id] {
			listed[id] = true
			threadIDs = append(threadIDs, id)
		}
	}
	for _, t := range threads {
		add(t.ID)
	}
	msgIDs := make([]uuid.UUID, len(msgs))
	for i, m := range msgs {
		add(m.ThreadID)
		msgIDs[i] = m.ID
	}
	stored := make(map[uuid.UUID]mews.StoredThread)
	var id uuid.UUID
	var st mews.StoredThread
	var created, updated int64
	if err := eachRow(ctx, tx, lookUpThreadsSQL, threadIDs, []any{&id, &st.IntegrationID, &st.EnterpriseID, &created, &updated}, func() {
		st.CreatedUTC, st.UpdatedUTC = utc(created), utc(updated)
		stored[id] = st
	}); err != nil {
		return nil, nil, fmt.Errorf("sqlite: import: look up threads: %w", err)
	}
	storedMsgs := make(map[uuid.UUID]uuid.UUID)
	var thread uuid.UUID
	if err := eachRow(ctx, tx, lookUpMessagesSQL, msgIDs, []any{&id, &thread}, func() {
		storedMsgs[id] = thread
	}); err != nil {
		return nil, nil, fmt.Errorf("sqlite: import: look up messages: %w", err)
	}
	return stored, storedMsgs, nil
}

// The look-ups of importLookups: the rows of the ids listed in ?1 (jsonIDs).
const (
	lookUpThreadsSQL = `SELECT t.id, t.integration_id, t.enterprise_id, t.created_utc, t.updated_utc
		FROM json_each(?1) j CROSS JOIN threads t ON t.id = unhex(j.value)`
	lookUpMessagesSQL = `SELECT m.id, m.thread_id
		FROM json_each(?1) j CROSS JOIN messages m ON m.id = unhex(j.value)`
)

// eachRow runs query, a look-up of ids, scanning each row into dest and
// then calling f; with no ids it runs nothing.
func eachRow(ctx context.Context, tx *sql.Tx, query string, ids []uuid.UUID, dest []any, f func()) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, query, jsonIDs(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		f()
	}
	return rows.Err()
}

// jsonIDs writes ids as a JSON array of their bytes in hex, one argument
// however many there are (SQLite limits a statement's parameters), which a
// query reads with json_each and unhex. Text, not a blob: json_each reads
// a blob as JSONB.
func jsonIDs(ids []uuid.UUID) string {
	var b strings.Builder
	b.Grow(2 + 35*len(ids))
	b.WriteByte('[')
	var h [32]byte
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		hex.Encode(h[:], id[:])
		b.WriteByte('"')
		b.Write(h[:])
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// DataExport reads the threads and messages that f selects in one read
// transaction, so that every exported message has its thread.
func (db *DB) DataExport(ctx context.Context, f mews.ExportFilter) (threads []mews.Thread, msgs []mews.Message, err error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: export: %w", err)
	}
	defer func() { err = errors.Join(err, rollback(tx)) }()
	var w where
	if f.IntegrationID != nil {
		w.add("t.integration_id = ?", blob(*f.IntegrationID))
	}
	if f.EnterpriseID != nil {
		w.add("t.enterprise_id = ?", blob(*f.EnterpriseID))
	}
	rows, err := tx.QueryContext(ctx, "SELECT t.id, t.integration_id, t.enterprise_id, t.original_sender, t.subject, t.created_utc, t.updated_utc, t.is_resolved FROM threads t"+
		w.String()+" ORDER BY t.created_utc DESC, t.seq DESC", w.args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: export threads: %w", err)
	}
	for rows.Next() {
		t, err := scanThread(rows)
		if err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("sqlite: export threads: %w", err)
		}
		threads = append(threads, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, nil, fmt.Errorf("sqlite: export threads: %w", err)
	}
	rows, err = tx.QueryContext(ctx, "SELECT m.id, m.thread_id, m.text, m.sender, m.created_utc FROM messages m JOIN threads t ON t.id = m.thread_id"+
		w.String()+" ORDER BY m.created_utc DESC, m.seq DESC", w.args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: export messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m mews.Message
		var created int64
		if err := rows.Scan(&m.ID, &m.ThreadID, &m.Text, &m.Sender, &created); err != nil {
			return nil, nil, fmt.Errorf("sqlite: export messages: %w", err)
		}
		m.CreatedUTC = utc(created)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: export messages: %w", err)
	}
	return threads, msgs, nil
}

// DeliveryRedeliver copies delivery id into a new pending delivery in one
// statement.
func (db *DB) DeliveryRedeliver(ctx context.Context, id int64, url string, now time.Time) (mews.Delivery, error) {
	var d mews.Delivery
	err := db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries
			(integration_id, url, payload, status, attempts, created_utc, next_attempt_ms)
			SELECT integration_id, coalesce(nullif(?, ''), url), payload, 'Pending', 0, ?, ? FROM webhook_deliveries WHERE seq = ?
			RETURNING `+deliveryColumns, url, now.Unix(), now.UnixMilli(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return deliveryNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: redeliver %d: %w", id, err)
		}
		return nil
	})
	return d, err
}

func deliveryNotFound(id int64) error {
	return mews.Errorf(mews.ENOTFOUND, "Id: no webhook delivery %d; see webhookDeliveries/getAll.", id)
}

// DeliveryDefer moves the due time of a pending delivery.
func (db *DB) DeliveryDefer(ctx context.Context, id int64, at time.Time) error {
	return db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, "UPDATE webhook_deliveries SET next_attempt_ms = ? WHERE seq = ? AND status = 'Pending'",
			at.UnixMilli(), id); err != nil {
			return fmt.Errorf("sqlite: defer delivery %d: %w", id, err)
		}
		return nil
	})
}
