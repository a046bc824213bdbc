package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the log is copied into the database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointer copies the write-ahead log into the database file from its
// own connection, beside the writer. SQLite's automatic checkpoint would
// run inside the writer's commits, holding up every write of the batch
// waiting behind it; a passive checkpoint needs no lock that the writer or
// the readers hold. A crash loses nothing: the log is replayed at open.
type checkpointer struct {
	conn    *sql.DB
	quit    chan struct{}
	stopped chan struct{}
}

func newCheckpointer(conn *sql.DB) *checkpointer {
	c := &checkpointer{conn: conn, quit: make(chan struct{}), stopped: make(chan struct{})}
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
			// A failure (the database busy with another process's
			// checkpoint) is retried at the next tick.
			_, _ = c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		case <-c.quit:
			return
		}
	}
}

// close stops the loop, checkpoints what is left and closes the connection.
func (c *checkpointer) close() error {
	close(c.quit)
	<-c.stopped
	_, _ = c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return c.conn.Close()
}
