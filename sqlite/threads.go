package sqlite

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

const insertThreadSQL = `INSERT INTO threads
	(integration_id, enterprise_id, created_utc, seq, id, original_sender, subject, updated_utc, is_resolved)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// MessageThreadsAdd stores t, durably: it returns once the transaction that
// holds it is committed (see writer).
func (db *DB) MessageThreadsAdd(ctx context.Context, t mews.Thread) error {
	return db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		return db.addThreads(ctx, tx, t)
	})
}

// addThreads inserts ts in tx with consecutive seq values in the order
// given. With one thread it runs one statement, which either applies whole
// or not at all.
func (db *DB) addThreads(ctx context.Context, tx *txn, ts ...mews.Thread) error {
	if len(ts) == 0 {
		return nil
	}
	seq, err := tx.seq.take(ctx, tx.Tx, threadSeq, len(ts))
	if err != nil {
		return err
	}
	if db.writeStmts.inTx() {
		return db.writeStmts.insertThreads(ctx, seq, ts)
	}
	ins := tx.StmtContext(ctx, db.insertThread)
	for i, t := range ts {
		if _, err := ins.ExecContext(ctx,
			blob(t.IntegrationID), blob(t.EnterpriseID), micros(t.CreatedUTC), seq+int64(i),
			blob(t.ID), t.OriginalSender, t.Subject, micros(t.UpdatedUTC), t.IsResolved,
		); err != nil {
			return fmt.Errorf("sqlite: add thread %s: %w", t.ID, err)
		}
	}
	return nil
}

// MessageThreadsGetAll returns a page of the threads that match f.
//
// It would need no transaction: the cursor's position never changes once
// stored, and threads added after the lookup are newer than it, so the page
// is the same whichever snapshot the second query sees. With a cursor its
// two queries share one all the same, which takes the read lock once.
func (db *DB) MessageThreadsGetAll(ctx context.Context, f mews.ThreadFilter) (_ []mews.Thread, err error) {
	if err := checkCount(f.Page.Count); err != nil {
		return nil, err
	}
	var r reader = db.engine
	var after *position
	if f.Page.Cursor != nil {
		var tx *readTx
		if tx, err = db.engine.begin(ctx); err != nil {
			return nil, fmt.Errorf("sqlite: get threads: %w", err)
		}
		defer endRead(tx, &err)
		r = tx
		p, err := threadPosition(ctx, r, f.Scope, *f.Page.Cursor)
		if err != nil {
			return nil, err
		}
		after = &p
	}
	ts, err := readThreadParts(ctx, r, f.Page.Count, threadsPageQuery(f, after), &f.Scope)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get threads: %w", err)
	}
	return ts, nil
}

// threadsPageQuery returns the statements of a page of threads, after the
// position of the cursor if any (see created.parts). With one enterprise in
// scope each is a single backward walk of the primary key of threads,
// stopping after the rows still wanted.
func threadsPageQuery(f mews.ThreadFilter, after *position) []part {
	var w where
	if f.IDs != nil {
		// At most 1000 lookups of the unique index on id, and a sort of
		// what they find, beat walking the whole scope in order to pick
		// them out; without statistics SQLite would choose the walk.
		w.in("id", f.IDs)
		w.scope("+", f.Scope)
	} else {
		w.scope("", f.Scope)
	}
	var c created
	if f.Created != nil {
		c.within(*f.Created)
	}
	if f.Updated != nil {
		lo, hi := f.Updated.UnixMicros()
		w.add("updated_utc BETWEEN ? AND ?", lo, hi)
		// Implied, since a thread is updated no earlier than it is created
		// (a CHECK of the schema), and it bounds the index range.
		c.atMost(hi)
	}
	head := pageThreadsHead
	if len(f.Scope.EnterpriseIDs) != 1 {
		head = pageThreadsHeadEnterprises
	}
	return c.parts(w, after, func(w *where) string { return statement(head, w, pageOrder) })
}

// The heads of the statements of a page of threads, in the columns of
// pageThreadColumnsOne and pageThreadColumnsMany, and the tail of every
// page statement.
const (
	pageThreadsHead            = "SELECT " + pageThreadColumnsOne + " FROM threads"
	pageThreadsHeadEnterprises = "SELECT " + pageThreadColumnsMany + " FROM threads"
	pageOrder                  = " ORDER BY created_utc DESC, seq DESC " + limitParam
)

// threadPositionQuery returns the query of the position of thread id, if it
// is in scope s.
func threadPositionQuery(s mews.Scope, id uuid.UUID) (string, []any) {
	var w where
	w.add("id = ?", blob(id))
	w.scope("", s)
	return statement("SELECT created_utc, seq FROM threads", &w, ""), w.args
}

// threadPosition returns the position of the cursor id, or EINVALID if it is
// not a thread in scope s.
func threadPosition(ctx context.Context, e reader, s mews.Scope, id uuid.UUID) (position, error) {
	query, args := threadPositionQuery(s, id)
	p, found, err := readPosition(ctx, e, query, args)
	if err != nil {
		return p, fmt.Errorf("sqlite: find cursor thread %s: %w", id, err)
	}
	if !found {
		return p, mews.Errorf(mews.EINVALID,
			"Invalid Limitation.Cursor: %s is not the Id of a message thread of this client.", id)
	}
	return p, nil
}

// threadsInScopeQuery returns the query of those of ids that are threads in
// scope s.
func threadsInScopeQuery(s mews.Scope, ids []uuid.UUID) (string, []any) {
	var w where
	w.in("id", ids)
	// "+": look the ids up in their unique index; without it SQLite may
	// prefer to walk every thread of the scope.
	w.scope("+", s)
	return statement("SELECT id FROM threads", &w, ""), w.args
}

// threadsInScope returns the set of those of ids that are threads in scope s.
func threadsInScope(ctx context.Context, e reader, s mews.Scope, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	query, args := threadsInScopeQuery(s, ids)
	in, err := readIDSet(ctx, e, len(ids), query, args)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find threads in scope: %w", err)
	}
	return in, nil
}
