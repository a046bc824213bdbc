package sqlite

import (
	"context"
	"database/sql"
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
// between two of its transactions (writer.catchUp): a batch or two of
// frames. Its next transaction then starts the log again.
//
// The log's frames are the only durable copy of a write until a checkpoint
// has copied them and synced the database file; SQLite starts the log again
// over them only after that (logsync.go). Copying goes on while the syncer
// has not yet synced the last frames: a checkpoint syncs the log itself
// before it copies. After a failed sync of the log, no more copying: the
// page cache may no longer hold what the disk does, and the next start
// replays the log from the disk.
type checkpointer struct {
	conn    *sql.DB
	behind  *atomic.Bool // set after a pass that found frames in the log
	syncer  *logSyncer   // its failure stops the copying
	quit    chan struct{}
	stopped chan struct{}
}

func newCheckpointer(conn *sql.DB, behind *atomic.Bool, syncer *logSyncer) *checkpointer {
	c := &checkpointer{conn: conn, behind: behind, syncer: syncer, quit: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
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

// pass copies what it can of the log. A failure (the database busy with
// another process's checkpoint) is retried at the next tick.
func (c *checkpointer) pass() {
	if c.syncer.failed() != nil {
		return
	}
	var busy, log, copied int
	err := c.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
	if err == nil && log > 0 {
		c.behind.Store(true)
	}
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
	return c.conn.Close()
}
