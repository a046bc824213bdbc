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

// importLock is the key of the transaction-level advisory lock that imports
// take, so that replicas importing the same seed at start take turns: the
// second finds the first one's items stored and leaves them.
const importLock = 0x6d657773_696d7074 // "mewsimpt"

// DataImport stores an import in one transaction (see mews.Data): it looks
// up the items that are stored already, lets mews.PlanImport apply the
// rules, and copies the rest in the order given, so that seq keeps that
// order.
func (db *DB) DataImport(ctx context.Context, threads []mews.Thread, msgs []mews.Message, webhooksAt *time.Time) (mews.ImportCounts, error) {
	var counts mews.ImportCounts
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(importLock)); err != nil {
			return fmt.Errorf("postgres: import: lock: %w", err)
		}
		stored, storedMsgs, err := importLookups(ctx, tx, threads, msgs)
		if err != nil {
			return err
		}
		plan, err := mews.PlanImport(threads, msgs, stored, storedMsgs)
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"threads"},
			[]string{"id", "integration_id", "enterprise_id", "original_sender", "subject", "created_utc", "updated_utc", "is_resolved"},
			pgx.CopyFromSlice(len(plan.Threads), func(i int) ([]any, error) {
				t := plan.Threads[i]
				return []any{t.ID, t.IntegrationID, t.EnterpriseID, []byte(t.OriginalSender), []byte(t.Subject),
					instant(t.CreatedUTC), instant(t.UpdatedUTC), t.IsResolved}, nil
			})); err != nil {
			return fmt.Errorf("postgres: import threads: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"},
			[]string{"id", "thread_id", "text", "sender", "created_utc"},
			pgx.CopyFromSlice(len(plan.Messages), func(i int) ([]any, error) {
				m := plan.Messages[i]
				return []any{m.ID, m.ThreadID, []byte(m.Text), string(m.Sender), instant(m.CreatedUTC)}, nil
			})); err != nil {
			return fmt.Errorf("postgres: import messages: %w", err)
		}
		b := &pgx.Batch{}
		if len(plan.Touch) > 0 {
			ids := make([]uuid.UUID, 0, len(plan.Touch))
			ats := make([]time.Time, 0, len(plan.Touch))
			for id, at := range plan.Touch {
				ids, ats = append(ids, id), append(ats, instant(at))
			}
			b.Queue(touchThreadsSQL, uuids(ids), ats)
		}
		if webhooksAt != nil && len(plan.Messages) > 0 {
			integrations, batches, enterpriseOf := plan.WebhookBatches()
			for _, in := range integrations {
				queueWebhooks(b, in, batches[in], enterpriseOf, *webhooksAt)
			}
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("postgres: import: %w", err)
			}
		}
		counts = plan.Counts
		return nil
	})
	return counts, err
}

// importLookups returns the threads of the import (and the threads its
// messages name) that are stored, and the stored messages of the import
// with their threads.
func importLookups(ctx context.Context, tx pgx.Tx, threads []mews.Thread, msgs []mews.Message) (map[uuid.UUID]mews.StoredThread, map[uuid.UUID]uuid.UUID, error) {
	threadIDs := make([]uuid.UUID, 0, len(threads)+len(msgs))
	for _, t := range threads {
		threadIDs = append(threadIDs, t.ID)
	}
	msgIDs := make([]uuid.UUID, 0, len(msgs))
	for _, m := range msgs {
		threadIDs, msgIDs = append(threadIDs, m.ThreadID), append(msgIDs, m.ID)
	}
	stored := make(map[uuid.UUID]mews.StoredThread)
	rows, err := tx.Query(ctx, "SELECT id, integration_id, enterprise_id, created_utc, updated_utc FROM threads WHERE id = ANY($1)", uuids(threadIDs))
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: import: look up threads: %w", err)
	}
	var id uuid.UUID
	var st mews.StoredThread
	if _, err := pgx.ForEachRow(rows, []any{&id, &st.IntegrationID, &st.EnterpriseID, &st.CreatedUTC, &st.UpdatedUTC}, func() error {
		st.CreatedUTC, st.UpdatedUTC = utc(st.CreatedUTC), utc(st.UpdatedUTC)
		stored[id] = st
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("postgres: import: look up threads: %w", err)
	}
	storedMsgs := make(map[uuid.UUID]uuid.UUID)
	rows, err = tx.Query(ctx, "SELECT id, thread_id FROM messages WHERE id = ANY($1)", uuids(msgIDs))
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: import: look up messages: %w", err)
	}
	var thread uuid.UUID
	if _, err := pgx.ForEachRow(rows, []any{&id, &thread}, func() error {
		storedMsgs[id] = thread
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("postgres: import: look up messages: %w", err)
	}
	return stored, storedMsgs, nil
}

// DataExport reads the threads and messages that f selects in one
// repeatable-read transaction, so that every exported message has its
// thread.
func (db *DB) DataExport(ctx context.Context, f mews.ExportFilter) (threads []mews.Thread, msgs []mews.Message, err error) {
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var w where
		if f.IntegrationID != nil {
			w.add("t.integration_id = " + w.arg(*f.IntegrationID))
		}
		if f.EnterpriseID != nil {
			w.add("t.enterprise_id = " + w.arg(*f.EnterpriseID))
		}
		rows, err := tx.Query(ctx, "SELECT t.id, t.integration_id, t.enterprise_id, t.original_sender, t.subject, t.created_utc, t.updated_utc, t.is_resolved FROM threads t"+
			w.String()+" ORDER BY t.created_utc DESC, t.seq DESC", w.args...)
		if err != nil {
			return fmt.Errorf("postgres: export threads: %w", err)
		}
		if threads, err = pgx.AppendRows(threads, rows, scanThread); err != nil {
			return fmt.Errorf("postgres: export threads: %w", err)
		}
		rows, err = tx.Query(ctx, "SELECT m.id, m.thread_id, m.text, m.sender, m.created_utc FROM messages m JOIN threads t ON t.id = m.thread_id"+
			w.String()+" ORDER BY m.created_utc DESC, m.seq DESC", w.args...)
		if err != nil {
			return fmt.Errorf("postgres: export messages: %w", err)
		}
		if msgs, err = pgx.AppendRows(msgs, rows, scanMessage); err != nil {
			return fmt.Errorf("postgres: export messages: %w", err)
		}
		return nil
	})
	return threads, msgs, err
}

// DeliveryRedeliver copies delivery id into a new pending delivery in one
// statement.
func (db *DB) DeliveryRedeliver(ctx context.Context, id int64, url string, now time.Time) (mews.Delivery, error) {
	rows, err := db.pool.Query(ctx, `INSERT INTO webhook_deliveries AS d
		(integration_id, url, payload, status, attempts, created_utc, next_attempt_utc)
		SELECT integration_id, coalesce(nullif($1, ''), url), payload, 'Pending', 0, $2, $3 FROM webhook_deliveries WHERE seq = $4
		RETURNING `+deliveryColumns, url, second(now), now, id)
	if err != nil {
		return mews.Delivery{}, fmt.Errorf("postgres: redeliver %d: %w", id, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, mews.Errorf(mews.ENOTFOUND, "Id: no webhook delivery %d; see webhookDeliveries/getAll.", id)
	}
	if err != nil {
		return d, fmt.Errorf("postgres: redeliver %d: %w", id, err)
	}
	return d, nil
}

// DeliveryDefer moves the due time of a pending delivery.
func (db *DB) DeliveryDefer(ctx context.Context, id int64, at time.Time) error {
	if _, err := db.pool.Exec(ctx, "UPDATE webhook_deliveries SET next_attempt_utc = $1 WHERE seq = $2 AND status = 'Pending'", at, id); err != nil {
		return fmt.Errorf("postgres: defer delivery %d: %w", id, err)
	}
	return nil
}
