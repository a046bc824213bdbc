package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// The seq of threads and messages, which breaks the ties of items created
// in the same microsecond, is handed out from the sequences table (migration
// 0006): its row of each table holds the next value that no process has
// taken. A writer reserves a block of values by moving the row forward
// inside one of its write transactions, and hands the block out in memory
// in that and later transactions, with no statement. Every write
// transaction starts with BEGIN IMMEDIATE and holds the database's write
// lock to its end, so two processes that share the file reserve disjoint
// blocks: values are unique. Within a process they grow in the order of the
// writes; between processes, items of the same microsecond sort in an
// order of their blocks (like items whose instants come from two clocks).
//
// A reservation that is rolled back (the savepoint of a write that failed,
// or the whole transaction) is forgotten with it, so the values of that
// block are reserved again later and handed out once. Values of a reserved
// block that are never handed out (at Close, or taken by a write that then
// failed) are skipped: seq only grows, with gaps.

// seqTable names a table whose seq the sequences table hands out.
type seqTable int

const (
	threadSeq seqTable = iota
	messageSeq
	nSeqTables
)

var seqNames = [nSeqTables]string{"threads", "messages"}

// seqBlock is how many values a writer reserves at a time: one statement
// per this many threads or messages.
const seqBlock = 1024

// seqStmts is the statement that reserves a block, prepared once on the
// write connection.
type seqStmts struct {
	reserve *sql.Stmt
}

func prepareSeqStmts(ctx context.Context, pool *sql.DB) (seqStmts, error) {
	var s seqStmts
	var err error
	if s.reserve, err = pool.PrepareContext(ctx,
		`UPDATE sequences SET next = next + ?1 WHERE name = ?2 RETURNING next - ?1`); err != nil {
		return s, fmt.Errorf("sqlite: prepare sequence reservation: %w", err)
	}
	return s, nil
}

func (s seqStmts) close() []error {
	if s.reserve == nil {
		return nil
	}
	return []error{s.reserve.Close()}
}

// sequences hands out seq values from reserved blocks. It belongs to one
// goroutine at a time: the writer's, or one Import.
type sequences struct {
	stmts seqStmts
	block int64                  // values reserved at a time
	next  [nSeqTables]int64      // the next value of the block
	end   [nSeqTables]int64      // the end of the block, exclusive
	since [nSeqTables]reservedIn // when the block was reserved, while that may still roll back
}

// reservedIn tells how far the reservation of a block is from being
// committed: in the write in progress (rolled back with its savepoint), or
// in an earlier write of the transaction in progress.
type reservedIn uint8

const (
	committed reservedIn = iota
	thisTx
	thisWrite
)

func newSequences(stmts seqStmts, block int64) *sequences {
	return &sequences{stmts: stmts, block: block}
}

// take returns the first of n consecutive values of t's sequence,
// reserving a new block in tx if the current one has fewer than n left.
func (s *sequences) take(ctx context.Context, tx *sql.Tx, t seqTable, n int) (int64, error) {
	if s.end[t]-s.next[t] < int64(n) {
		size := max(s.block, int64(n))
		var first int64
		if err := tx.StmtContext(ctx, s.stmts.reserve).QueryRowContext(ctx, size, seqNames[t]).Scan(&first); err != nil {
			return 0, fmt.Errorf("sqlite: reserve values of the sequence of %s: %w", seqNames[t], err)
		}
		s.next[t], s.end[t], s.since[t] = first, first+size, thisWrite
	}
	first := s.next[t]
	s.next[t] += int64(n)
	return first, nil
}

// writeDone is called after each write of a transaction: kept says whether
// its changes stay (succeeded, or a single statement that applied
// nothing) or were rolled back to its savepoint.
func (s *sequences) writeDone(kept bool) {
	for t := range nSeqTables {
		if s.since[t] == thisWrite {
			if kept {
				s.since[t] = thisTx
			} else {
				s.forget(t)
			}
		}
	}
}

// txDone is called at the end of each transaction: ok says whether it
// committed. Forgetting a block is always safe (it only leaves a gap);
// keeping one is only when its reservation is durable.
func (s *sequences) txDone(ok bool) {
	for t := range nSeqTables {
		if s.since[t] != committed {
			if ok {
				s.since[t] = committed
			} else {
				s.forget(t)
			}
		}
	}
}

func (s *sequences) forget(t seqTable) {
	s.next[t], s.end[t], s.since[t] = 0, 0, committed
}

// txn is a write transaction and the sequences it hands out seq from.
type txn struct {
	*sql.Tx
	seq *sequences
}
