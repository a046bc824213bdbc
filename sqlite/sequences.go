package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The seq of threads and messages, which breaks the ties of items created
// in the same microsecond, is handed out from the sequences table (migration
// 0006): its row of each table holds the next value. A write transaction
// reads the row the first time it needs a value, hands out values in
// memory, and writes the row back once before its commit. Every write
// transaction starts with BEGIN IMMEDIATE and holds the database's write
// lock to its end, so no other connection, of this process or another
// sharing the file, can read the row in between: values are unique and
// grow in the order of the commits. Values taken by a write that is rolled
// back (its savepoint, or the whole transaction) are skipped or handed out
// again, never used twice.

// seqTable names a table whose seq the sequences table hands out.
type seqTable int

const (
	threadSeq seqTable = iota
	messageSeq
	nSeqTables
)

var seqNames = [nSeqTables]string{"threads", "messages"}

// seqStmts are the statements that read and move a sequence, prepared once
// on the write connection.
type seqStmts struct {
	get, set *sql.Stmt
}

func prepareSeqStmts(ctx context.Context, pool *sql.DB) (seqStmts, error) {
	var s seqStmts
	var err error
	if s.get, err = pool.PrepareContext(ctx, `SELECT next FROM sequences WHERE name = ?`); err != nil {
		return s, fmt.Errorf("sqlite: prepare sequence read: %w", err)
	}
	if s.set, err = pool.PrepareContext(ctx, `UPDATE sequences SET next = ? WHERE name = ? AND next = ?`); err != nil {
		return s, fmt.Errorf("sqlite: prepare sequence update: %w", err)
	}
	return s, nil
}

func (s seqStmts) close() []error {
	var errs []error
	for _, st := range []*sql.Stmt{s.get, s.set} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errs
}

// sequences hands out seq values inside one write transaction.
type sequences struct {
	stmts  seqStmts
	loaded [nSeqTables]bool
	next   [nSeqTables]int64 // the next value to hand out
	stored [nSeqTables]int64 // the value the row holds
}

// take returns the first of n consecutive values of t's sequence.
func (s *sequences) take(ctx context.Context, tx *sql.Tx, t seqTable, n int) (int64, error) {
	if !s.loaded[t] {
		var next int64
		if err := tx.StmtContext(ctx, s.stmts.get).QueryRowContext(ctx, seqNames[t]).Scan(&next); err != nil {
			return 0, fmt.Errorf("sqlite: read the sequence of %s: %w", seqNames[t], err)
		}
		s.next[t], s.stored[t], s.loaded[t] = next, next, true
	}
	first := s.next[t]
	s.next[t] += int64(n)
	return first, nil
}

// flush writes the values handed out back to the sequences table, in tx,
// before its commit.
func (s *sequences) flush(ctx context.Context, tx *sql.Tx) error {
	for t := range nSeqTables {
		if !s.loaded[t] || s.next[t] == s.stored[t] {
			continue
		}
		// "next = ?": the row must still hold what this transaction read
		// (a check: the write lock guarantees it).
		r, err := tx.StmtContext(ctx, s.stmts.set).ExecContext(ctx, s.next[t], seqNames[t], s.stored[t])
		if err == nil {
			var n int64
			if n, err = r.RowsAffected(); err == nil && n != 1 {
				err = fmt.Errorf("the row no longer holds %d", s.stored[t])
			}
		}
		if err != nil {
			return fmt.Errorf("sqlite: update the sequence of %s: %w", seqNames[t], err)
		}
		s.stored[t] = s.next[t]
	}
	return nil
}

// reset forgets what was read, at the end of a transaction.
func (s *sequences) reset() {
	s.loaded = [nSeqTables]bool{}
}

// txn is a write transaction and the sequences handed out in it.
type txn struct {
	*sql.Tx
	seq *sequences
}
