package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit. Every write of this process goes to one goroutine, which
// runs the writes that are waiting together in one transaction. Each write
// runs inside its own savepoint, so a write that fails leaves no trace and
// does not affect the others of the transaction. In a file, a write is
// acknowledged only once the transaction that holds it is committed and a
// sync of the log that began after the commit is done (logsync.go): the
// writer hands the committed batch to the syncer and goes on with the next
// one, and the syncer makes all the batches committed since its previous
// sync durable with one fdatasync. In memory, the commit is the answer.

// maxBatch bounds the writes of one transaction, and so the wait of the
// first of them.
const maxBatch = 256

var errClosed = errors.New("sqlite: the store is closed")

// writeFunc is one write: it runs in tx and either succeeds whole or
// returns an error, after which its changes are rolled back.
type writeFunc func(ctx context.Context, tx *txn) error

type job struct {
	ctx    context.Context
	fn     writeFunc
	single bool // fn runs one statement: SQLite applies it whole or not at all (see doStatement)
	err    error
	done   chan struct{}
}

// writer owns the single write connection.
type writer struct {
	pool    *sql.DB
	seq     *sequences    // the blocks of seq values it hands out
	turns   *sync.RWMutex // in memory: held for each transaction (engine.turns)
	behind  *atomic.Bool  // set by the checkpointer after a pass (catchUp)
	syncer  *logSyncer    // completes the jobs once the log is synced; nil in memory
	cp      *checkpointer // runs catchUp's checkpoint and tells its outcome; nil in memory
	jobs    chan *job
	quit    chan struct{}
	stopped chan struct{}
}

// turns is the lock that an in-memory database's readers share with the
// writer (engine.turns); nil for a file.
func newWriter(pool *sql.DB, seq seqStmts, turns *sync.RWMutex, behind *atomic.Bool, syncer *logSyncer, cp *checkpointer) *writer {
	w := &writer{pool: pool, seq: newSequences(seq, seqBlock), turns: turns, behind: behind, syncer: syncer, cp: cp,
		jobs: make(chan *job), quit: make(chan struct{}), stopped: make(chan struct{})}
	go w.loop()
	return w
}

// do runs fn in the next transaction and returns once it is committed and
// durable (nil) or has failed. Once fn has been handed over, do waits for
// the outcome even if ctx ends: the caller must not believe a write failed
// that is being committed.
func (w *writer) do(ctx context.Context, fn writeFunc) error {
	return w.submit(&job{ctx: ctx, fn: fn, done: make(chan struct{})})
}

// doStatement is do for an fn that runs exactly one statement, which needs
// no savepoint: a statement that fails leaves no change behind. Before it,
// fn may reserve seq values (sequences.go), a change that may stay.
func (w *writer) doStatement(ctx context.Context, fn writeFunc) error {
	return w.submit(&job{ctx: ctx, fn: fn, single: true, done: make(chan struct{})})
}

func (w *writer) submit(j *job) error {
	ctx := j.ctx
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return errClosed
	}
	<-j.done
	return j.err
}

func (w *writer) loop() {
	defer close(w.stopped)
	batch := make([]*job, 0, maxBatch)
	for {
		select {
		case j := <-w.jobs:
			batch = append(batch[:0], j)
		case <-w.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		var committed bool
		batch, committed = w.run(batch)
		w.finish(batch, committed)
		if w.behind.Swap(false) && w.syncer.failed() == nil {
			w.catchUp()
		}
	}
}

// finish completes the jobs of batch, which committed or not: in a file
// through the syncer, once the log holding the commit is synced (and the
// syncs before it are done), so that no outcome is answered before what
// it saw is durable.
func (w *writer) finish(batch []*job, committed bool) {
	if w.syncer != nil {
		w.syncer.add(batch, committed)
		return
	}
	for _, j := range batch {
		close(j.done)
	}
}

// catchUp copies into the database file the frames of the log that the
// checkpointer's last pass left (see checkpointer): those committed while
// it copied, a small part of what it copied. With no commit in between,
// the next transaction finds the whole log copied and SQLite starts the
// log again from its beginning (unless a reader still reads from it: then
// at a later pass). A failure leaves the log longer, or, a failed sync,
// fails the store (checkpointer.checked).
func (w *writer) catchUp() {
	_, _, _ = w.cp.copyOn(w.pool, "PASSIVE")
}

// run executes batch in one transaction, sets each job's outcome, and
// returns the batch (with the jobs that joined it) and whether it
// committed. After a failed sync of the log it fails them all
// (logsync.go).
//
// While the syncer syncs the batches before, the transaction stays open
// and takes the writes that arrive, up to maxBatch, and commits when that
// sync is done (also when it is full first): the writer's work overlaps
// the sync, and a batch holds what arrived during one sync, as when the
// writer waited for the sync itself. Committing at once instead would make
// batches of a few writes, each rewriting the same last pages of the
// B-trees: 3.9 writes and 8 KB per messageThreadsAdd instead of 1.3 and
// 2.9 KB, and 60% more CPU.
func (w *writer) run(batch []*job) ([]*job, bool) {
	fail := func(err error) {
		for _, j := range batch {
			if j.err == nil {
				j.err = err
			}
		}
	}
	if err := w.syncer.failed(); err != nil {
		fail(err)
		return batch, false
	}
	if w.turns != nil {
		w.turns.Lock()
		defer w.turns.Unlock()
	}
	// The transaction outlives any one caller's context.
	ctx := context.Background()
	tx, err := w.pool.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		return batch, false
	}
	t := &txn{Tx: tx, seq: w.seq}
	ok := 0
	// exec runs j in the transaction and reports whether the transaction
	// was lost with it (every job of batch then failed).
	exec := func(j *job) (lost bool) {
		if j.err = j.ctx.Err(); j.err != nil {
			return false
		}
		// A job's statements run without its caller's cancellation: the
		// driver interrupts a statement whose context ends, and SQLite
		// answers an interrupted write inside a transaction by rolling
		// back the whole transaction, the other jobs' writes and the
		// reservation of seq values with it. The caller waits for the
		// outcome in any case (do).
		jctx := context.WithoutCancel(j.ctx)
		if j.single {
			j.err = j.fn(jctx, t)
		} else {
			j.err = runIsolated(jctx, t, j.fn)
		}
		if j.err != nil && abortsTransaction(j.err) {
			// The transaction may be gone (SQLite rolls it back on a full
			// disk, an I/O error or no memory): no job of the batch is
			// stored, and the statements of the next ones would commit
			// each on its own, with seq values reserved by the lost
			// transaction.
			w.seq.txDone(false)
			fail(fmt.Errorf("sqlite: the write transaction was lost: %w", j.err))
			_ = tx.Rollback() // already rolled back by SQLite, or rolled back now
			return true
		}
		// A single statement that failed changed nothing, and the
		// statements before it in fn (a reservation of seq values) stay.
		w.seq.writeDone(j.err == nil || j.single)
		if j.err == nil {
			ok++
		}
		return false
	}
	for _, j := range batch {
		if exec(j) {
			return batch, false
		}
	}
	if synced := w.syncer.busy(); synced != nil {
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
				if exec(j) {
					return batch, false
				}
			case <-synced:
				break more
			}
		}
		// A full transaction still commits only after that sync: one
		// batch at most waits for a sync, and the writes that arrive
		// meanwhile wait to be handed over, where their context can end
		// the wait, instead of joining batch after batch committed
		// behind a sync that does not end.
		<-synced
	}
	if err := w.syncer.failed(); err != nil {
		// The sync waited for failed: nothing more goes to the log.
		w.seq.txDone(false)
		fail(errors.Join(err, rollback(tx)))
		return batch, false
	}
	if ok == 0 {
		w.seq.txDone(false)
		if err := rollback(tx); err != nil {
			fail(err)
		}
		return batch, false
	}
	err = tx.Commit()
	w.seq.txDone(err == nil)
	if err != nil {
		fail(fmt.Errorf("sqlite: commit: %w", err))
		return batch, false
	}
	return batch, true
}

// runIsolated runs fn inside a savepoint: on failure its changes are undone
// and the transaction goes on for the other jobs.
func runIsolated(ctx context.Context, tx *txn, fn writeFunc) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT job"); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	err := fn(ctx, tx)
	if err != nil {
		// Background: the undo must run even if ctx is what failed fn.
		if _, rerr := tx.ExecContext(context.Background(), "ROLLBACK TO job"); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqlite: rollback to savepoint: %w", rerr))
		}
	}
	if _, rerr := tx.ExecContext(context.Background(), "RELEASE job"); rerr != nil {
		return errors.Join(err, fmt.Errorf("sqlite: release savepoint: %w", rerr))
	}
	return err
}

// close stops the loop once the batch in progress is handed to the syncer;
// later writes fail with errClosed.
func (w *writer) close() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.stopped
}

// abortsTransaction reports whether err is one of the errors after which
// SQLite may have rolled back the whole transaction, not only the
// statement (https://sqlite.org/lang_transaction.html, "Response To Errors
// Within A Transaction"): a full disk, an I/O error, no memory, a busy
// database, an interrupt.
func abortsTransaction(err error) bool {
	var se interface{ Code() int } // *sqlite.Error, or codeError (rawwrite.go)
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_INTERRUPT:
		return true
	}
	return false
}
