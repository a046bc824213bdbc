package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
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
type checkpointer struct {
	conn   *sql.DB
	behind *atomic.Bool // set after a pass that found frames in the log
	syncer *logSyncer   // its failure stops the copying
	// file is a descriptor of the database file, for the sync of its
	// pages that a partial pass left dirty; syncFile syncs it (tests
	// replace it).
	file     *os.File
	syncFile func() error
	// copied is called after each copy of a pass (tests).
	copied  func(log, backfilled int)
	quit    chan struct{}
	stopped chan struct{}
}

// newCheckpointer starts the checkpointer of the database file path, read
// through conn.
func newCheckpointer(conn *sql.DB, path string, behind *atomic.Bool, syncer *logSyncer) (*checkpointer, error) {
	// Writable: some systems sync only a descriptor open for writing.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open the database file to sync it: %w", err)
	}
	c := &checkpointer{conn: conn, behind: behind, syncer: syncer, file: f, quit: make(chan struct{}), stopped: make(chan struct{})}
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
// to the writer (behind). A failure (the database busy with another
// process's checkpoint) is retried at the next tick.
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
// those of them copied (SQLite's nBackfill), log -1 on an error.
func (c *checkpointer) copy() (log, backfilled int, err error) {
	var busy int
	err = c.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &backfilled)
	if err != nil {
		return -1, 0, err
	}
	if c.copied != nil {
		c.copied(log, backfilled)
	}
	return log, backfilled, nil
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

// close stops the loop, checkpoints what is left (not after a failed sync)
// and closes the connection.
func (c *checkpointer) close() error {
	c.stop()
	if c.syncer.failed() == nil {
		_, _ = c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return errors.Join(c.conn.Close(), c.file.Close())
}
