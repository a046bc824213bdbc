package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

const (
	insertMessageSQL = `INSERT INTO messages (id, thread_id, text, sender, created_utc) VALUES (?, ?, ?, ?, ?)`
	// max, not a plain assignment: a thread's UpdatedUTC is the time of its
	// newest message, whatever the order the messages arrive in.
	touchThreadSQL = `UPDATE threads SET updated_utc = max(updated_utc, ?) WHERE id = ?`
)

// MessagesAdd stores msgs all or none, durably (see writer). The messages are
// inserted in the order given, so of those created in the same second the
// last one is the newest.
func (db *DB) MessagesAdd(ctx context.Context, scope mews.Scope, msgs []mews.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	// The threads in order of first mention, each with its newest message.
	var threads []uuid.UUID
	newest := make(map[uuid.UUID]int64)
	for _, m := range msgs {
		c, seen := newest[m.ThreadID]
		if !seen {
			threads = append(threads, m.ThreadID)
		}
		if !seen || m.CreatedUTC.Unix() > c {
			newest[m.ThreadID] = m.CreatedUTC.Unix()
		}
	}

	return db.writer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		in, err := threadsInScope(ctx, tx, scope, threads)
		if err != nil {
			return err
		}
		for _, id := range threads {
			if !in[id] {
				return mews.Errorf(mews.EINVALID,
					"Invalid MessageThreadId: %s is not a message thread of this client.", id)
			}
		}
		insert := tx.StmtContext(ctx, db.insertMessage)
		for _, m := range msgs {
			if _, err := insert.ExecContext(ctx,
				blob(m.ID), blob(m.ThreadID), m.Text, string(m.Sender), m.CreatedUTC.Unix()); err != nil {
				return fmt.Errorf("sqlite: add message %s: %w", m.ID, err)
			}
		}
		touch := tx.StmtContext(ctx, db.touchThread)
		for _, id := range threads {
			if _, err := touch.ExecContext(ctx, newest[id], blob(id)); err != nil {
				return fmt.Errorf("sqlite: update thread %s: %w", id, err)
			}
		}
		return nil
	})
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
		p, err := messagePosition(ctx, db.reads, f.Scope, *f.Page.Cursor)
		if err != nil {
			return nil, err
		}
		after = &p
	}
	in, err := threadsInScope(ctx, db.reads, f.Scope, f.ThreadIDs)
	if err != nil {
		return nil, err
	}
	// Each once, in the order asked, so that one thread asked twice still
	// gets the single-thread query.
	var threads []uuid.UUID
	for _, id := range f.ThreadIDs {
		if in[id] {
			threads = append(threads, id)
			delete(in, id)
		}
	}
	if len(threads) == 0 {
		return nil, nil
	}
	q, args := messagesPageQuery(threads, f.Created, after, f.Page.Count)
	rows, err := db.reads.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get messages: %w", err)
	}
	defer rows.Close()
	var ms []mews.Message
	for rows.Next() {
		var m mews.Message
		var created int64
		if err := rows.Scan(&m.ID, &m.ThreadID, &m.Text, &m.Sender, &created); err != nil {
			return nil, fmt.Errorf("sqlite: get messages: %w", err)
		}
		m.CreatedUTC = utc(created)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get messages: %w", err)
	}
	return ms, nil
}

// messagesPageQuery returns the query of a page of the messages of threads,
// after the position of the cursor if any. With one thread it is a single
// backward walk of messages_thread_created, stopping after count rows.
func messagesPageQuery(threads []uuid.UUID, createdIn *mews.Interval, after *position, count int) (string, []any) {
	var w where
	w.in("thread_id", threads)
	var c created
	if createdIn != nil {
		c.within(*createdIn)
	}
	c.olderThan(after)
	c.addTo(&w)
	return `SELECT id, thread_id, text, sender, created_utc
		FROM messages` + w.String() + `
		ORDER BY created_utc DESC, seq DESC
		LIMIT ?`, append(w.args, count)
}

// messagePositionQuery returns the query of the position of message id, if
// its thread is in scope s.
func messagePositionQuery(s mews.Scope, id uuid.UUID) (string, []any) {
	var w where
	w.add("m.id = ?", blob(id))
	w.scope("t.", s)
	return `SELECT m.created_utc, m.seq FROM messages m JOIN threads t ON t.id = m.thread_id` + w.String(), w.args
}

// messagePosition returns the position of the cursor id, or EINVALID if it
// is not a message of a thread in scope s.
func messagePosition(ctx context.Context, q querier, s mews.Scope, id uuid.UUID) (position, error) {
	query, args := messagePositionQuery(s, id)
	var p position
	err := q.QueryRowContext(ctx, query, args...).Scan(&p.created, &p.seq)
	if errors.Is(err, sql.ErrNoRows) {
		return p, mews.Errorf(mews.EINVALID,
			"Invalid Limitation.Cursor: %s is not the Id of a message of this client.", id)
	}
	if err != nil {
		return p, fmt.Errorf("sqlite: find cursor message %s: %w", id, err)
	}
	return p, nil
}
