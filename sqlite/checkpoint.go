package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// checkpointEvery is how often the log is copied into the database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointer copies the write-ahead log into the database file from its
// own connection, beside the writer. SQLite's automatic checkpoint would
// run inside the writer's commits, holding up every write of the batch
// waiting behind it; a passive checkpoint needs no lock that the writer or
// the readers hold. A crash loses nothing: the log is replayed at open.
//
// SQLite starts the log again from its beginning only when a write
// transaction begins with every frame of the log copied. Under a steady
// stream of writes that moment never comes by itself: a pass copies the
// frames committed before it began, while the writer's transaction of the
// moment adds more, so the log would grow by every frame ever written
// (263 MiB after 3,000 messages/add of 10) and every commit append to a
// longer file. So after each pass that copied anything the checkpointer
// sets behind, and the writer copies what the pass could not see itself,
// between two of its transactions (writer.catchUp). Its next transaction
// then starts the log again.
//
// That last copy holds up the writer, so the checkpointer leaves it as
// little as it can: after its first copy it syncs the database file itself
// and copies again what was committed meanwhile, twice (pass), so that the
// writer copies only the frames of the last few milliseconds, and its
// checkpoint's sync of the database file (SQLite's, which a checkpoint that
// copies the whole log ends with) writes back only those pages. It was the
// writer's longest wait: with the writer copying everything committed
// during a pass of ~85 ms, 860 pages a time, and syncing the database file
// with all the pass's pages dirty, catchUp took 80 ms on average, a fifth
// of the writer's time under messages/add (docs/BENCHMARKS.md, "The
// writer's time, accounted").
//
// The log's frames are the only durable copy of a write until a checkpoint
// has copied them and synced the database file; SQLite starts the log again
// over them only after that (logsync.go). A pass that copies only part of
// the log (the usual case beside the writer) raises SQLite's count of
// copied frames without syncing the database file: SQLite relies on the
// sync at the end of the checkpoint that copies the rest, before the log
// can start again. The checkpointer's own sync of the database file comes
// on top of those and changes nothing in that order; it only leaves fewer
// dirty pages to the last one. Copying goes on while the syncer has not yet
// synced the last frames: a checkpoint syncs the log itself before it
// copies (the checkpointer's connection runs with synchronous=FULL). After
// a failed sync of the log, no more copying: the page cache may no longer
// hold what the disk does, and the next start replays the log from the
// disk. A failed sync of the database file is a failed sync of the store:
// the pages it should have made durable may be lost from the page cache,
// so readers could read older pages than the log holds; writes are then
// refused and nothing more is copied, and the next start replays the log,
// which still holds every frame (it starts again only after a copy that
// synced).
//
// A checkpoint that fails is retried, unless it failed to sync or was the
// last, at close. SQLite raises its count of copied frames only after a
// copy that succeeded (walCheckpoint: "if( rc==SQLITE_OK ) ... nBackfill =
// mxSafeFrame"), so after a failed read of the log, a failed write into the
// database file or a full disk the log still holds every frame not yet
// counted as copied, the next checkpoint copies them again, and the log
// cannot start again over them: nothing is lost, the log only grows. The
// failures are logged (checked) at the first and when the error changes,
// but each error at most once every checkpointLogEvery, and a checkpoint
// that succeeds after a failure logged is logged once: failures that
// alternate with successes (a pass's first copy succeeds, its second fails)
// logged an error and its recovery at every pass. SQLITE_BUSY is no
// failure: a passive checkpoint answers it (as a row, busy=1) when another
// checkpoint runs. A failed sync (SQLITE_IOERR_FSYNC: of the log, which a
// checkpoint syncs before it copies, or of the database file, after it
// copied the whole log) is a failed sync of the store, as the
// checkpointer's own: Linux may have dropped the dirty pages, among them
// those of the partial copies before, whose frames SQLite already counts as
// copied, and reports it once per descriptor, so the next checkpoint's sync
// would succeed and the log start again over the only durable copy of those
// pages.
type checkpointer struct {
	pool *sql.DB
	// conn is pool's one connection, held from newCheckpointer to close:
	// it holds the database, so the log stays the file that the syncer
	// syncs (logsync.go). It is never opened again (that would let go of
	// the database in between), and need not be: a held sql.Conn is
	// closed only by its Close or by a call whose driver error is
	// driver.ErrBadConn (Conn.closemuRUnlockCondReleaseConn), and
	// modernc.org/sqlite (v1.61) returns that only from ResetSession,
	// which database/sql calls on a connection taken from the pool, never
	// on a held one. Nor is its connection closed or interrupted under it:
	// only a cancelled context interrupts, and the checkpoints run without
	// one (runCheckpoint), as the first read (newCheckpointer).
	conn   *sql.Conn
	behind *atomic.Bool // set after a pass that found frames in the log
	syncer *logSyncer   // its failure stops the copying
	// file is a descriptor of the database file, for the sync of its
	// pages that a partial pass left dirty; syncFile syncs it (tests
	// replace it).
	file     *os.File
	syncFile func() error
	// checkpoint runs a checkpoint of mode on conn (runCheckpoint; tests
	// replace it before the first pass).
	checkpoint func(conn queryer, mode string) (busy, log, backfilled int, err error)
	// copied is called after each copy of a pass (tests).
	copied  func(log, backfilled int)
	now     func() time.Time // time.Now; tests replace it
	quit    chan struct{}
	stopped chan struct{}

	mu       sync.Mutex // for the writer's catchUp and the pass
	failures int        // checkpoints failed in a row
	// loggedAt is when each error (by its text) was last logged, of those
	// logged within checkpointLogEvery; unlogged counts the failures not
	// logged since the last one logged; owed is set from a failure logged
	// to the next success, whose recovery is then logged.
	loggedAt map[string]time.Time
	unlogged int
	owed     bool
}

// checkpointLogEvery is how often at most the same checkpoint error is
// logged: a checkpoint is tried every checkpointEvery, and after each
// batch of the writer that a pass left behind.
const checkpointLogEvery = time.Minute

// queryer is a pool or a connection.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// newCheckpointer starts the checkpointer of the database file path, read
// through the one connection of pool, which it takes from pool for good
// and reads the database with at once: a connection in WAL mode holds a
// shared lock on the database file from its first read to its close, and
// while one does, no connection deletes the log (logsync.go).
func newCheckpointer(ctx context.Context, pool *sql.DB, path string, behind *atomic.Bool, syncer *logSyncer) (*checkpointer, error) {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: the checkpointer's connection: %w", err)
	}
	// Without cancellation: an interrupt that an ended ctx left pending
	// would have the driver report the connection bad.
	var n int
	if err := conn.QueryRowContext(context.WithoutCancel(ctx), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: the checkpointer's first read: %w", err), conn.Close())
	}
	// Writable: some systems sync only a descriptor open for writing.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open the database file to sync it: %w", err), conn.Close())
	}
	c := &checkpointer{pool: pool, conn: conn, behind: behind, syncer: syncer, file: f, checkpoint: runCheckpoint,
		now: time.Now, quit: make(chan struct{}), stopped: make(chan struct{})}
	c.syncFile = func() error { return datasync(f) }
	go c.loop()
	return c, nil
}

func (c *checkpointer) loop() {
	defer close(c.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.pass()
		case <-c.quit:
			return
		}
	}
}

// passCopies bounds the copies of one pass. Each copies what the writer
// committed during the copy (and the sync) before it, less every time while
// the writer commits more slowly than a checkpoint copies.
const passCopies = 4

// pass copies what it can of the log. While the writer commits beside it,
// it copies again what was committed meanwhile, syncing the database file
// before each further copy (up to passCopies copies), then leaves the rest
// to the writer (behind). A copy that failed, or found the database busy
// with another checkpoint, is retried at the next tick.
func (c *checkpointer) pass() {
	prev := -1
	// The writer copies once the pass is done, not beside its copies:
	// one of two checkpoints at once fails busy, and a copy of the writer
	// between two of the checkpointer's would take their work.
	defer func() {
		if prev > 0 {
			c.behind.Store(true)
		}
	}()
	for i := range passCopies {
		if c.syncer.failed() != nil {
			return
		}
		// A checkpoint tells the frames of the log as its connection saw
		// it when it began: log == prev means nothing was committed since
		// the copy before, which thus copied the whole log and had SQLite
		// sync the database file. (After the log started again, log may
		// be anything: a needless copy and sync at worst.)
		log, _, err := c.copy()
		if err != nil || log <= 0 || log == prev {
			return
		}
		prev = log
		if i == passCopies-1 {
			// The writer's checkpoint syncs this copy's pages.
			return
		}
		if i > 0 {
			if err := c.syncFile(); err != nil {
				_ = c.syncer.fail(fmt.Errorf("the sync of the database file %s, after copying part of the log into it, failed: %w", c.file.Name(), err))
				return
			}
		}
	}
}

// copy runs one passive checkpoint and returns the frames in the log and
// those of them copied (SQLite's nBackfill), log -1 on an error or if
// another checkpoint was running.
func (c *checkpointer) copy() (log, backfilled int, err error) {
	log, backfilled, err = c.copyOn(c.conn, "PASSIVE")
	if err != nil {
		return -1, 0, err
	}
	if c.copied != nil {
		c.copied(log, backfilled)
	}
	return log, backfilled, nil
}

// copyOn runs a checkpoint of mode on conn (the checkpointer's, or the
// writer's in catchUp) and tells its outcome (checked).
func (c *checkpointer) copyOn(conn queryer, mode string) (log, backfilled int, err error) {
	busy, log, backfilled, err := c.checkpoint(conn, mode)
	if (err == nil && busy != 0) || isBusyError(err) {
		// Another checkpoint runs, or another process sharing the file
		// recovers its log: neither success nor failure.
		return -1, 0, nil
	}
	c.checked(err, mode == closeMode)
	return log, backfilled, err
}

// closeMode is the mode of the checkpoint at close, and of no other.
const closeMode = "TRUNCATE"

func runCheckpoint(conn queryer, mode string) (busy, log, backfilled int, err error) {
	err = conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &backfilled)
	return busy, log, backfilled, err
}

// checked tells the outcome of a checkpoint: a failed sync fails the store,
// another failure is logged (see checkpointer), a success after a failure
// logged too. The failure of the checkpoint at close (atClose) is logged
// whatever was logged before: nothing retries it.
func (c *checkpointer) checked(err error, atClose bool) {
	log := c.syncer.logger()
	if err != nil && isSyncError(err) {
		_ = c.syncer.fail(fmt.Errorf("a checkpoint's sync (of the log before it copies, or of the database file %s after) failed: %w", c.file.Name(), err))
		return
	}
	now := c.now()
	c.mu.Lock()
	n, unlogged := c.failures, c.unlogged
	if err == nil {
		owed := c.owed
		c.failures, c.owed = 0, false
		if owed {
			c.unlogged = 0 // the recovery's line counts them; else the next error's
		}
		c.mu.Unlock()
		if owed {
			log.Warn("sqlite: the checkpoints of the write-ahead log into the database file succeed again",
				"database", c.file.Name(), "failed", n, "failures_not_logged", unlogged)
		}
		return
	}
	n++
	c.failures = n
	msg := err.Error()
	at, seen := c.loggedAt[msg]
	show := atClose || !seen || now.Sub(at) >= checkpointLogEvery
	if show {
		if c.loggedAt == nil {
			c.loggedAt = map[string]time.Time{}
		}
		for m, at := range c.loggedAt {
			if now.Sub(at) >= checkpointLogEvery {
				delete(c.loggedAt, m)
			}
		}
		c.loggedAt[msg] = now
		c.unlogged, c.owed = 0, true
	} else {
		c.unlogged++
	}
	c.mu.Unlock()
	if atClose {
		// The store's last connection to close copies the log if it can
		// (and deletes it); else the log stays, and the next open reads
		// it and copies it.
		log.Error("sqlite: the checkpoint at close of the write-ahead log into the database file failed: "+
			"the frames it did not copy stay in the log, for the close of the store's last connection or else the next open to copy",
			"database", c.file.Name(), "error", msg, "failures_in_a_row", n, "failures_not_logged", unlogged,
			"action", "check the disk and its file system (dmesg, free space) before the next start")
		return
	}
	if show {
		log.Error("sqlite: a checkpoint of the write-ahead log into the database file failed: the log grows until one succeeds",
			"database", c.file.Name(), "error", msg, "failures_in_a_row", n, "failures_not_logged", unlogged,
			"action", "check the disk and its file system (dmesg, free space): every write stays in the log, "+
				"and the checkpoints are retried every "+checkpointEvery.String()+"; an error is logged again at most every "+
				checkpointLogEvery.String()+", and the first checkpoint that succeeds after it")
	}
}

// isBusyError reports whether err is SQLite's BUSY or LOCKED, with any
// extended code (SQLITE_BUSY_RECOVERY: another process sharing the file
// recovers the log; SQLITE_BUSY_SNAPSHOT): the checkpoint waits for its
// next turn, the disk is not at fault.
func isBusyError(err error) bool {
	var se interface{ Code() int }
	if err == nil || !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// isSyncError reports whether err is SQLite's for a failed sync of a file.
func isSyncError(err error) bool {
	var se interface{ Code() int } // *sqlite.Error, or codeError (rawwrite.go)
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_IOERR_FSYNC, sqlite3.SQLITE_IOERR_DIR_FSYNC:
		return true
	}
	return false
}

// stop stops the loop; tests then call pass themselves.
func (c *checkpointer) stop() {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	<-c.stopped
}

// close stops the loop, checkpoints what is left and closes the
// connection. After a failed sync (which that checkpoint may be) it does
// neither: the connection stays open, and holds the log on the disk as it
// is for the next start (the last connection to close would copy it, as
// the page cache has it, and delete it).
func (c *checkpointer) close() error {
	c.stop()
	if c.syncer.failed() == nil {
		_, _, _ = c.copyOn(c.conn, closeMode)
	}
	if c.syncer.failed() != nil {
		return c.file.Close()
	}
	return errors.Join(c.conn.Close(), c.pool.Close(), c.file.Close())
}
