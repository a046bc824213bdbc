package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"slices"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// insertMessagesSQL inserts n messages.
func insertMessagesSQL(n int) string {
	return `INSERT INTO messages (thread_id, created_utc, seq, id, text, sender) VALUES ` + placeholders(n, 6)
}

// addMessages inserts msgs in tx, with consecutive seq values in the order
// given: of messages created at the same instant, the later one is newer.
func (db *DB) addMessages(ctx context.Context, tx *txn, msgs []mews.Message) error {
	first, err := tx.seq.take(ctx, tx.Tx, messageSeq, len(msgs))
	if err != nil {
		return err
	}
	if db.writeStmts.inTx() {
		return db.writeStmts.insertMessages(ctx, first, msgs)
	}
	return db.insertMessages.each(len(msgs), func(s *sql.Stmt, lo, hi int) error {
		args := make([]any, 0, 6*(hi-lo))
		for i, m := range msgs[lo:hi] {
			args = append(args, blob(m.ThreadID), micros(m.CreatedUTC), first+int64(lo+i), blob(m.ID), m.Text, string(m.Sender))
		}
		if _, err := tx.StmtContext(ctx, s).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("sqlite: add messages: %w", err)
		}
		return nil
	})
}

// touchThreadsSQL moves the UpdatedUTC of n threads of an integration and
// returns each thread it found with its enterprise: one statement both
// updates the threads and tells which of them are there. max, not a plain
// assignment: a thread's UpdatedUTC is the time of its newest message,
// whatever the order the messages arrive in. "+": look the threads up by
// id, not through the scope index. Through database/sql only; the write
// connection's own handle runs touchThreadSQL per thread (rawwrite.go).
func touchThreadsSQL(n int) string {
	return `UPDATE threads SET updated_utc = max(updated_utc, ?)
		WHERE id IN (` + list(n) + `) AND +integration_id = ?
		RETURNING id, enterprise_id`
}

// MessagesAdd stores msgs all or none, durably (see writer). The messages are
// inserted in the order given, so of those created at the same instant the
// last one is the newest.
func (db *DB) MessagesAdd(ctx context.Context, scope mews.Scope, msgs []mews.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	threads, newest := messageThreads(msgs)
	return db.writer.do(ctx, func(ctx context.Context, tx *txn) error {
		// Touch the threads first: what the update finds is the scope
		// check. A thread that is not there, or in another enterprise, fails
		// the write, and the writer rolls back what it touched.
		enterprises, err := db.touchInScope(ctx, tx, scope, threads, newest)
		if err != nil {
			return err
		}
		if err := db.addMessages(ctx, tx, msgs); err != nil {
			return err
		}
		// The webhooks are queued in the same transaction: acknowledged
		// messages always have their deliveries.
		if db.writeStmts.inTx() {
			has, err := db.writeStmts.hasWebhooks(scope.IntegrationID)
			if err != nil || !has {
				return err
			}
		}
		found := make(map[uuid.UUID]uuid.UUID, len(threads)) // thread: enterprise
		for i, id := range threads {
			found[id] = enterprises[i]
		}
		return db.queueWebhooks(ctx, tx.Tx, scope.IntegrationID, msgs, found, msgs[0].CreatedUTC)
	})
}

// messageThreads returns the threads of msgs in order of first mention,
// each with the instant of its newest message (Unix microseconds).
func messageThreads(msgs []mews.Message) ([]uuid.UUID, []int64) {
	threads := make([]uuid.UUID, 0, len(msgs))
	newest := make([]int64, 0, len(msgs))
	var index map[uuid.UUID]int // of threads, once a linear search costs more
	for _, m := range msgs {
		created := micros(m.CreatedUTC)
		i := -1
		if index != nil {
			if j, ok := index[m.ThreadID]; ok {
				i = j
			}
		} else {
			i = slices.Index(threads, m.ThreadID)
		}
		if i >= 0 {
			newest[i] = max(newest[i], created)
			continue
		}
		threads, newest = append(threads, m.ThreadID), append(newest, created)
		if index == nil && len(threads) > 16 {
			index = make(map[uuid.UUID]int, len(msgs))
			for j, id := range threads {
				index[id] = j
			}
		} else if index != nil {
			index[m.ThreadID] = len(threads) - 1
		}
	}
	return threads, newest
}

// touchInScope moves the UpdatedUTC of threads to the instants of newest
// (of the same index) and returns the enterprise of each: an error if one
// is not a thread of scope, the first of them in order.
func (db *DB) touchInScope(ctx context.Context, tx *txn, scope mews.Scope, threads []uuid.UUID, newest []int64) ([]uuid.UUID, error) {
	enterprises := make([]uuid.UUID, len(threads))
	n := len(threads)
	if db.writeStmts.inTx() {
		var err error
		if n, err = db.writeStmts.touchThreads(ctx, scope.IntegrationID, threads, newest, enterprises); err != nil {
			return nil, err
		}
	} else {
		found := make(map[uuid.UUID]uuid.UUID, len(threads)) // thread: enterprise
		for at, ids := range byTime(threads, newest) {
			err := db.touchThreads.each(len(ids), func(s *sql.Stmt, lo, hi int) error {
				args := make([]any, 0, hi-lo+2)
				args = append(args, at)
				for _, id := range ids[lo:hi] {
					args = append(args, blob(id))
				}
				args = append(args, blob(scope.IntegrationID))
				return collectThreads(tx.StmtContext(ctx, s).QueryContext(ctx, args...))(found)
			})
			if err != nil {
				return nil, err
			}
		}
		for i, id := range threads {
			e, ok := found[id]
			if !ok {
				n = i
				break
			}
			enterprises[i] = e
		}
	}
	// The threads found come first, up to the first that is not there.
	for i, id := range threads {
		if i == n || !slices.Contains(scope.EnterpriseIDs, enterprises[i]) {
			return nil, mews.Errorf(mews.EINVALID,
				"Invalid MessageThreadId: %s is not a message thread of this client.", id)
		}
	}
	return enterprises, nil
}

// byTime groups threads (in order) by the time their UpdatedUTC moves to
// (newest, of the same index).
func byTime(threads []uuid.UUID, newest []int64) map[int64][]uuid.UUID {
	groups := make(map[int64][]uuid.UUID, 1)
	for i, id := range threads {
		groups[newest[i]] = append(groups[newest[i]], id)
	}
	return groups
}

// collectThreads reads the rows of touchThreadsSQL into found.
func collectThreads(rows *sql.Rows, err error) func(found map[uuid.UUID]uuid.UUID) error {
	return func(found map[uuid.UUID]uuid.UUID) error {
		if err != nil {
			return fmt.Errorf("sqlite: update threads: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, enterprise uuid.UUID
			if err := rows.Scan(&id, &enterprise); err != nil {
				return fmt.Errorf("sqlite: update threads: %w", err)
			}
			found[id] = enterprise
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: update threads: %w", err)
		}
		return nil
	}
}

// MessagesGetAll returns a page of the messages that match f. It first
// narrows f.ThreadIDs to the threads in scope, so that the page query reads
// the messages table alone, by thread; the cursor's thread is checked in
// the same lookup (usually it is one of f.ThreadIDs), not by a join of
// messages to threads. Like MessageThreadsGetAll it would need no
// transaction, and its queries share one, which takes the read lock once.
func (db *DB) MessagesGetAll(ctx context.Context, f mews.MessageFilter) (_ []mews.Message, err error) {
	if err := checkCount(f.Page.Count); err != nil {
		return nil, err
	}
	tx, err := db.engine.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get messages: %w", err)
	}
	defer endRead(tx, &err)
	var after *position
	var cursorThread uuid.UUID
	ids := f.ThreadIDs
	if f.Page.Cursor != nil {
		p, thread, err := messagePosition(ctx, tx, *f.Page.Cursor)
		if err != nil {
			return nil, err
		}
		after, cursorThread = &p, thread
		if !slices.Contains(ids, thread) {
			ids = append(slices.Clip(ids), thread)
		}
	}
	in, err := threadsInScope(ctx, tx, f.Scope, ids)
	if err != nil {
		return nil, err
	}
	if after != nil && !in[cursorThread] {
		return nil, errCursorMessage(*f.Page.Cursor)
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
	ms, err := readMessages(ctx, tx, f.Page.Count, messagesPageQuery(threads, f.Created, after))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get messages: %w", err)
	}
	return ms, nil
}

// messagesPageQuery returns the statements of a page of the messages of
// threads, after the position of the cursor if any (see created.parts).
// With one thread each is a single backward walk of the primary key of
// messages, stopping after the rows still wanted.
func messagesPageQuery(threads []uuid.UUID, createdIn *mews.Interval, after *position) []part {
	var w where
	w.in("thread_id", threads)
	var c created
	if createdIn != nil {
		c.within(*createdIn)
	}
	return c.parts(w, after, func(w *where) string {
		return statement("SELECT id, thread_id, text, sender, created_utc FROM messages", w, pageOrder)
	})
}

// messagePositionQuery returns the query of the thread and the position
// of message id: one lookup of messages_id, whose entries hold the key.
func messagePositionQuery(id uuid.UUID) (string, []any) {
	return `SELECT thread_id, created_utc, seq FROM messages WHERE id = ?`, []any{blob(id)}
}

// messagePosition returns the position of the cursor id and its thread, or
// EINVALID if there is no such message. Whether its thread is in scope is
// the caller's to check (errCursorMessage).
func messagePosition(ctx context.Context, e reader, id uuid.UUID) (position, uuid.UUID, error) {
	query, args := messagePositionQuery(id)
	r, err := e.query(ctx, query, args...)
	if err != nil {
		return position{}, uuid.UUID{}, fmt.Errorf("sqlite: find cursor message %s: %w", id, err)
	}
	var p position
	var thread uuid.UUID
	found := r.next()
	if found {
		thread, p = r.uuid(0), position{created: r.int64(1), seq: r.int64(2)}
	}
	if err := r.close(); err != nil {
		return p, thread, fmt.Errorf("sqlite: find cursor message %s: %w", id, err)
	}
	if !found {
		return p, thread, errCursorMessage(id)
	}
	return p, thread, nil
}

// errCursorMessage is the error of a cursor that is not a message of a
// thread in scope.
func errCursorMessage(id uuid.UUID) error {
	return mews.Errorf(mews.EINVALID,
		"Invalid Limitation.Cursor: %s is not the Id of a message of this client.", id)
}
