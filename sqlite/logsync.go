package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Syncing the log beside the writer.
//
// The writer's connection runs with synchronous=NORMAL (openFile): in WAL
// mode SQLite then writes a transaction's frames to the log at COMMIT but
// does not sync them. The writer hands the jobs of each batch it has
// committed to the logSyncer and goes on with the next batch; the syncer
// calls fdatasync on its own descriptor of the -wal file, once for every
// batch committed since its previous sync, and only then completes those
// jobs: do returns, the handler answers 200. A sync that starts after a
// commit returned covers the commit's frames, and every frame before them,
// whatever descriptor wrote them (a sync is of the file, not of a
// descriptor). So no write is acknowledged before it is durable, as with
// synchronous=FULL, but the writer no longer waits for the disk: while the
// syncer waits, the writer runs the next batch.
//
// What else tells the outside world that a write happened waits for the
// same point. Every job of a batch goes through the syncer, also one that
// failed (its error may tell of a row it saw that the sync has not yet
// covered). The webhook dispatcher claims its deliveries through the writer
// (DeliveriesClaim), so the rows of the outbox it sends are covered by the
// sync of the claim's batch, which is later than their own. The live views
// are told after the handler's store call returned (server/changes.go), so
// after the sync. What is not held back: readers (getAll, pages, the
// console) may see a batch that is committed but not yet synced, for a few
// milliseconds. That breaks no promise: its writer has no 200 yet, and may
// still get an error; a write that builds on what a reader saw (a message
// to a thread just listed) is acknowledged only after a sync that starts
// after its own commit and so covers the frames of the thread too. A crash
// in that window loses only writes that nobody was told were stored.
//
// The frames the syncer relies on are never overwritten before they are in
// the database file. SQLite starts the log again from its beginning (new
// salts, overwriting old frames: walRestartLog) only when a writer finds
// every frame copied (nBackfill == mxFrame), and a checkpoint raises
// nBackfill to the last frame only after it synced the database file
// (walCheckpoint: "if mxSafeFrame == mxFrame ... sqlite3OsSync(pDbFd)"
// before "nBackfill = mxSafeFrame"), with the sync flags of the connection
// that runs it: the checkpointer's (synchronous=FULL) or the writer's
// (NORMAL, which syncs checkpoints). The new header of a restarted log is
// synced by SQLite itself before any frame follows it (walFrames,
// syncHeader), directory included the first time. The -wal file stays the
// same inode while the store is open: SQLite deletes it only when the last
// connection to the database closes (after copying it, if it can), and a
// connection in WAL mode holds a shared lock on the database file from its
// first read to its close (pager_unlock keeps it), so while one connection
// of the store holds it no connection of any process can delete it; a
// checkpoint(TRUNCATE) or journal_size_limit truncates it in place. That
// connection is the checkpointer's: it reads the database at open and is
// never given back to its pool (newCheckpointer). Not the writer's:
// database/sql replaces a write connection that the driver reports bad (an
// interrupt left pending, rawwrite.go) and closes the old one before it
// opens the new; with no other connection holding the database and the
// log all copied, the old one deleted the log at its close and the new one
// created another, and the syncer failed the store
// (TestTheLogOutlivesAReplacedWriteConnection). The syncer still checks
// after each sync that the path names the file it synced, and fails if
// not: a write whose frames went to another file is never answered 200
// (its descriptor keeps the old inode, which no new file can reuse).
//
// A failed sync fails the jobs waiting for it, and every write after it:
// after a failed fsync Linux may have dropped the dirty pages and reports
// the error once per descriptor, so a later sync that succeeds proves
// nothing. The store then refuses writes (errors in do) and stops copying
// the log into the database file (no checkpoint, none at Close either), so
// that a restart replays the log as the disk holds it.

// logSyncer syncs the write-ahead log of a file database and completes the
// jobs of the batches it covers.
type logSyncer struct {
	path string      // the -wal file, as SQLite names it
	file *os.File    // opened after the writer's connection created it
	id   os.FileInfo // file's identity: the path must go on naming it
	// syncFile makes what was written to the log durable (fdatasync of
	// file); tests replace it before the first write.
	syncFile func() error
	log      atomic.Pointer[slog.Logger] // nil: slog.Default()

	mu      sync.Mutex
	pending []*job // handed over by the writer, not yet completed
	dirty   bool   // a batch of pending committed: a sync is due
	spare   []*job // the syncer's own: the next pending (no allocation)
	wake    chan struct{}
	// idle is closed once no committed batch waits for a sync, nil then:
	// the writer commits its next batch when it is (writer.run).
	idle chan struct{}

	failure atomic.Pointer[error] // the first failed sync's: writes refused
	// syncing serializes the syncs (the syncer's, Import's): Linux reports
	// a failed write-back once per descriptor, so of two syncs at once on
	// file one may succeed while the data it covers was lost; one after
	// the other, the second sees the failure the first recorded.
	syncing sync.Mutex

	quit    chan struct{}
	stopped chan struct{}
}

// openLogSyncer opens the log wal, which must exist, and starts the syncer.
func openLogSyncer(wal string) (*logSyncer, error) {
	f, err := os.Open(wal)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open the write-ahead log to sync it: %w", err)
	}
	id, err := f.Stat()
	if err == nil {
		// The file may be new: make its name durable too (SQLite also
		// does, at its first sync of the log, a checkpoint's).
		err = syncDir(filepath.Dir(wal))
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: the write-ahead log %s: %w", wal, err), f.Close())
	}
	s := &logSyncer{path: wal, file: f, id: id, wake: make(chan struct{}, 1), quit: make(chan struct{}), stopped: make(chan struct{})}
	s.syncFile = func() error { return datasync(f) }
	go s.loop()
	return s, nil
}

// add hands over the jobs of a batch that the writer has finished;
// committed says whether it committed anything. The syncer completes them
// after its next sync, or, if nothing of theirs is to be synced, once the
// syncs before them are done.
func (s *logSyncer) add(batch []*job, committed bool) {
	s.mu.Lock()
	s.pending = append(s.pending, batch...)
	s.dirty = s.dirty || committed
	if committed && s.idle == nil {
		s.idle = make(chan struct{})
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *logSyncer) loop() {
	defer close(s.stopped)
	for {
		select {
		case <-s.wake:
			s.round()
		case <-s.quit:
			s.round() // what the writer handed over before it stopped
			return
		}
	}
}

// round takes every job handed over so far, syncs the log if any of them
// committed, and completes them. Jobs handed over during the sync wait for
// the next round: the sync in progress may have started before their
// commit.
func (s *logSyncer) round() {
	s.mu.Lock()
	jobs, dirty := s.pending, s.dirty
	s.pending, s.dirty, s.spare = s.spare, false, nil
	s.mu.Unlock()
	if len(jobs) == 0 {
		s.spare = jobs
		return
	}
	err := s.failed()
	if err == nil && dirty {
		err = s.sync()
	}
	s.mu.Lock()
	if !s.dirty && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
	for _, j := range jobs {
		if err != nil && j.err == nil {
			j.err = err
		}
		close(j.done)
	}
	clear(jobs)
	s.spare = jobs[:0]
}

// busy returns a channel that is closed once every batch committed so far
// is synced, or nil if it is already (or for a nil syncer: in memory).
func (s *logSyncer) busy() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle == nil {
		return nil
	}
	return s.idle
}

// sync makes everything written to the log so far durable, or fails and
// from then on refuses writes. Safe for concurrent use (Import calls it).
func (s *logSyncer) sync() error {
	s.syncing.Lock()
	defer s.syncing.Unlock()
	if err := s.failed(); err != nil {
		return err
	}
	err := s.syncFile()
	if err == nil {
		// The frames synced must be those that a restart reads.
		if fi, serr := os.Stat(s.path); serr != nil || !os.SameFile(fi, s.id) {
			err = errors.Join(errors.New("the file was removed or replaced while the store had it open"), serr)
		}
	}
	if err != nil {
		return s.fail(fmt.Errorf("the sync of the write-ahead log %s failed: %w", s.path, err))
	}
	return nil
}

// fail records the failure of a sync of the store (cause says which: the
// log's, or the database file's, checkpoint.go) and logs it once; it
// returns the error that every write gets from then on.
func (s *logSyncer) fail(cause error) error {
	err := fmt.Errorf("sqlite: %w; writes may have been lost, so this store refuses writes until the server is restarted", cause)
	if s.failure.CompareAndSwap(nil, &err) {
		s.logger().Error("sqlite: a sync of the store failed: every write is refused from now on",
			"error", cause.Error(), // names the file whose sync failed
			"action", "check the disk and its file system (dmesg, free space), then restart the server: "+
				"at start SQLite replays the log as the disk holds it, which has every write answered 200 before the failure; "+
				"the writes since were answered with an error and may or may not be there")
	}
	return *s.failure.Load()
}

// logger is where the store logs what a person must act on (SetLogger).
func (s *logSyncer) logger() *slog.Logger {
	if l := s.log.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// failed returns the error of the failed sync, or nil; nil for a nil
// syncer (in memory).
func (s *logSyncer) failed() error {
	if s == nil {
		return nil
	}
	if err := s.failure.Load(); err != nil {
		return *err
	}
	return nil
}

// close completes what the writer handed over (the writer has stopped)
// and closes the descriptor.
func (s *logSyncer) close() error {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.stopped
	return s.file.Close()
}
