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

// messageColumns is the select list of a message, in the order scanMessage
// reads it.
const messageColumns = "id, thread_id, text, sender, created_utc"

const (
	insertMessageSQL = `INSERT INTO messages (id, thread_id, text, sender, created_utc) VALUES ($1, $2, $3, $4, $5)`
	// greatest, not a plain assignment: a thread's UpdatedUTC is the time of
	// its newest message, whatever the order the messages arrive in, also
	// when two processes add to one thread at once (the row is locked, and
	// the second update reads the first one's value).
	touchThreadsSQL = `UPDATE threads SET updated_utc = greatest(threads.updated_utc, n.newest)
		FROM unnest($1::uuid[], $2::timestamptz[]) AS n (id, newest)
		WHERE threads.id = n.id`
)

// MessagesAdd stores msgs in one transaction: all or none. The messages are
// inserted one statement each, in the order given, so their seq follows
// that order: of those created at the same instant, the last one is the
// newest. The statements go in one round trip (a pgx batch).
func (db *DB) MessagesAdd(ctx context.Context, scope mews.Scope, msgs []mews.Message) (err error) {
	if len(msgs) == 0 {
		return nil
	}
	// The threads in order of first mention, each with its newest message.
	var threads []uuid.UUID
	newest := make(map[uuid.UUID]time.Time)
	for _, m := range msgs {
		c, seen := newest[m.ThreadID]
		if !seen {
			threads = append(threads, m.ThreadID)
		}
		if created := instant(m.CreatedUTC); !seen || created.After(c) {
			newest[m.ThreadID] = created
		}
	}

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: add messages: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := tx.Rollback(ctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
				err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rerr))
			}
		}
	}()

	// Locks the threads: a thread is checked and updated in one transaction.
	in, err := threadsInScope(ctx, tx, scope, threads, true)
	if err != nil {
		return err
	}
	for _, id := range threads {
		if _, ok := in[id]; !ok {
			return mews.Errorf(mews.EINVALID,
				"Invalid MessageThreadId: %s is not a message thread of this client.", id)
		}
	}
	b := &pgx.Batch{}
	for _, m := range msgs {
		b.Queue(insertMessageSQL, m.ID, m.ThreadID, []byte(m.Text), string(m.Sender), instant(m.CreatedUTC))
	}
	times := make([]time.Time, len(threads))
	for i, id := range threads {
		times[i] = newest[id]
	}
	b.Queue(touchThreadsSQL, uuids(threads), times)
	// The webhooks are queued in the same transaction: acknowledged
	// messages always have their deliveries.
	queueWebhooks(b, scope.IntegrationID, msgs, in, msgs[0].CreatedUTC)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: add messages: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: add messages: commit: %w", err)
	}
	return nil
}

// MessagesGetAll returns a page of the messages that match f. It first
// narrows f.ThreadIDs to the threads in scope, so that the page query reads
// the messages table alone, by thread. Like MessageThreadsGetAll it needs no
// transaction.
func (db *DB) MessagesGetAll(ctx context.Context, f mews.MessageFilter) ([]mews.Message, error) {
	if err := checkCount(f.Page.Count); err != nil {
		return nil, err
	}
	var after *position
	if f.Page.Cursor != nil {
		p, err := messagePosition(ctx, db.pool, f.Scope, *f.Page.Cursor)
		if err != nil {
			return nil, err
		}
		after = &p
	}
	in, err := threadsInScope(ctx, db.pool, f.Scope, f.ThreadIDs, false)
	if err != nil {
		return nil, err
	}
	// Each once, in the order asked: the page query walks each thread once.
	var threads []uuid.UUID
	for _, id := range f.ThreadIDs {
		if _, ok := in[id]; ok {
			threads = append(threads, id)
			delete(in, id)
		}
	}
	if len(threads) == 0 {
		return nil, nil
	}
	q, args := messagesPageQuery(threads, f.Created, after, f.Page.Count)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: get messages: %w", err)
	}
	ms, err := pgx.AppendRows([]mews.Message(nil), rows, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("postgres: get messages: %w", err)
	}
	return ms, nil
}

func scanMessage(row pgx.CollectableRow) (mews.Message, error) {
	var m mews.Message
	var text []byte
	err := row.Scan(&m.ID, &m.ThreadID, &text, &m.Sender, &m.CreatedUTC)
	m.Text, m.CreatedUTC = string(text), utc(m.CreatedUTC)
	return m, err
}

// messagesPageQuery returns the query of a page of the messages of threads
// (distinct), after the position of the cursor if any: a walk of
// messages_thread_created per thread (see pageQuery).
func messagesPageQuery(threads []uuid.UUID, created *mews.Interval, after *position, count int) (string, []any) {
	var w where
	if created != nil {
		w.between("created_utc", *created)
	}
	w.olderThan(after)
	return pageQuery(&w, messageColumns, "messages", "thread_id", threads, count), w.args
}

// messagePositionQuery returns the query of the position of message id, if
// its thread is in scope s.
func messagePositionQuery(s mews.Scope, id uuid.UUID) (string, []any) {
	var w where
	w.add("m.id = " + w.arg(id))
	w.scope("t.", s)
	return "SELECT m.created_utc, m.seq FROM messages m JOIN threads t ON t.id = m.thread_id" + w.String(), w.args
}

// messagePosition returns the position of the cursor id, or EINVALID if it
// is not a message of a thread in scope s.
func messagePosition(ctx context.Context, q querier, s mews.Scope, id uuid.UUID) (position, error) {
	query, args := messagePositionQuery(s, id)
	var p position
	err := q.QueryRow(ctx, query, args...).Scan(&p.created, &p.seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, mews.Errorf(mews.EINVALID,
			"Invalid Limitation.Cursor: %s is not the Id of a message of this client.", id)
	}
	if err != nil {
		return p, fmt.Errorf("postgres: find cursor message %s: %w", id, err)
	}
	return p, nil
}
