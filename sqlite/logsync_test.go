package sqlite

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mewsref/mewsref/mews"
)

// syncGate holds every sync of the log of a store until the test lets it
// go, with the error it gives (nil: the real fdatasync runs).
type syncGate struct {
	entered chan struct{} // a receive for each sync that began
	release chan error    // a send for each sync: its outcome
	open    chan struct{} // closed at the end of the test: syncs pass
	calls   atomic.Int32
}

// gateSyncs installs a syncGate on db before its first write.
func gateSyncs(t *testing.T, db *DB) *syncGate {
	t.Helper()
	g := &syncGate{entered: make(chan struct{}, 64), release: make(chan error), open: make(chan struct{})}
	real := db.syncer.syncFile
	db.syncer.syncFile = func() error {
		g.calls.Add(1)
		g.entered <- struct{}{}
		select {
		case err := <-g.release:
			if err != nil {
				return err
			}
		case <-g.open:
		}
		return real()
	}
	t.Cleanup(func() { close(g.open) }) // before openClosed's Close
	return g
}

// waitStored waits until a reader sees thread id: its batch is committed.
func waitStored(t *testing.T, db *DB, id uuid.UUID) {
	t.Helper()
	for {
		_, err := db.ThreadGet(t.Context(), id)
		if err == nil {
			return
		}
		if mews.ErrorCode(err) != mews.ENOTFOUND {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// addAsync adds th in the background; the channel gets the outcome.
func addAsync(db *DB, th mews.Thread) <-chan error {
	done := make(chan error, 1)
	go func() { done <- db.MessageThreadsAdd(context.Background(), th) }()
	return done
}

// awaitSync waits for the next sync to begin, failing if done gets an
// outcome first: the write it waits for returned without that sync.
func awaitSync(t *testing.T, g *syncGate, what string, done <-chan error) {
	t.Helper()
	select {
	case <-g.entered:
	case err := <-done:
		t.Fatalf("%s returned (%v) without waiting for its sync", what, err)
	}
}

// gatedAdd gates the syncs of db and adds a thread, which it returns once
// the sync of its commit has begun.
func gatedAdd(t *testing.T, db *DB) (*syncGate, mews.Thread, <-chan error) {
	t.Helper()
	g := gateSyncs(t, db)
	th := testThread(testScope())
	done := addAsync(db, th)
	awaitSync(t, g, "MessageThreadsAdd", done)
	return g, th, done
}

func notReturned(t *testing.T, what string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s returned (%v) before the sync of its commit was done", what, err)
	default:
	}
}

// A write is committed, and visible to readers, before its sync; do
// returns only once the sync is done.
func TestWriteReturnsOnlyAfterTheSyncOfItsCommit(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "sync.db"))
	g, th, done := gatedAdd(t, db)
	waitStored(t, db, th.ID)
	notReturned(t, "MessageThreadsAdd", done)
	g.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := g.calls.Load(); n != 1 {
		t.Errorf("%d syncs for one write, want 1", n)
	}
}

// The webhook dispatcher claims deliveries through the writer, so it gets
// the outbox rows of an add only after a sync that covers them.
func TestDeliveriesAreClaimedOnlyOnceSynced(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "sync.db"))
	ctx := t.Context()
	scope := testScope()
	th := testThread(scope)
	if err := db.MessageThreadsAdd(ctx, th); err != nil {
		t.Fatal(err)
	}
	if err := db.WebhooksSet(ctx, scope.IntegrationID, []string{"http://127.0.0.1:1/hook"}); err != nil {
		t.Fatal(err)
	}
	g := gateSyncs(t, db)
	added := make(chan error, 1)
	go func() {
		added <- db.MessagesAdd(context.Background(), scope, []mews.Message{{ID: uuid.New(), ThreadID: th.ID,
			Text: "hi", Sender: mews.SenderApplication, CreatedUTC: th.CreatedUTC}})
	}()
	awaitSync(t, g, "MessagesAdd", added) // the add's batch is committed: its outbox row is there
	now := time.Now()
	claimed := make(chan []mews.Delivery, 1)
	go func() {
		ds, err := db.DeliveriesClaim(context.Background(), now, time.Minute, 10)
		if err != nil {
			t.Error(err)
		}
		claimed <- ds
	}()
	notReturned(t, "MessagesAdd", added)
	g.release <- nil // the add's sync
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	// The claim's batch, run during the first sync, needs its own.
	select {
	case <-g.entered:
	case ds := <-claimed:
		t.Fatalf("claimed %d deliveries before the sync of the claim's commit was done", len(ds))
	}
	ds, err := db.Deliveries(ctx, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || !ds[0].NextAttemptUTC.After(now) {
		t.Fatalf("the claim's lease is not committed while its sync runs: %+v", ds)
	}
	select {
	case ds := <-claimed:
		t.Fatalf("claimed %d deliveries before the sync of the claim's commit was done", len(ds))
	default:
	}
	g.release <- nil
	if ds := <-claimed; len(ds) != 1 {
		t.Errorf("claimed %d deliveries, want 1", len(ds))
	}
}

// Writes that arrive while a sync runs join one transaction, committed
// once that sync is done and covered by the next sync, all at once.
func TestBatchesCommittedDuringASyncWaitForTheNext(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "sync.db"))
	g := gateSyncs(t, db)
	scope := testScope()
	first := testThread(scope)
	done1 := addAsync(db, first)
	awaitSync(t, g, "MessageThreadsAdd", done1)
	more := []mews.Thread{testThread(scope), testThread(scope), testThread(scope)}
	ran := make(chan struct{}, len(more))
	dones := make(chan error, len(more))
	for _, th := range more {
		go func() {
			dones <- db.writer.do(context.Background(), func(ctx context.Context, tx *txn) error {
				err := db.addThreads(ctx, tx, th)
				ran <- struct{}{}
				return err
			})
		}()
	}
	for range more {
		<-ran // in the writer's transaction, during the first sync
	}
	g.release <- nil
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	awaitSync(t, g, "a write run during the first sync", dones)
	for _, th := range more {
		waitStored(t, db, th.ID) // committed before the second sync
	}
	notReturned(t, "a write run during the first sync", dones)
	g.release <- nil
	for range more {
		if err := <-dones; err != nil {
			t.Fatal(err)
		}
	}
	if n := g.calls.Load(); n != 2 {
		t.Errorf("%d syncs, want 2: the writes run during the first share the second", n)
	}
}

// A failed sync fails the writes waiting for it and every write after it,
// logs what to do, and stops the copying of the log; reads go on.
func TestAFailedSyncRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	db := open(t, path)
	var logs bytes.Buffer
	db.SetLogger(slog.New(slog.NewJSONHandler(&logs, nil)))
	g := gateSyncs(t, db)
	scope := testScope()
	before := testThread(scope)
	done := addAsync(db, before)
	awaitSync(t, g, "MessageThreadsAdd", done)
	g.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	lost := testThread(scope)
	done = addAsync(db, lost)
	awaitSync(t, g, "MessageThreadsAdd", done)
	// A write in the writer's open transaction, waiting for that sync.
	waiting, ran, waited := testThread(scope), make(chan struct{}), make(chan error, 1)
	go func() {
		waited <- db.writer.do(context.Background(), func(ctx context.Context, tx *txn) error {
			defer close(ran)
			return db.addThreads(ctx, tx, waiting)
		})
	}()
	<-ran
	g.release <- syscall.EIO
	err := <-done
	if err == nil || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "refuses writes") {
		t.Fatalf("the write whose sync failed: got %v, want an error with EIO that says writes are refused", err)
	}
	if err := <-waited; !errors.Is(err, syscall.EIO) {
		t.Errorf("the write run during the failed sync: got %v, want the error of the failed sync", err)
	}
	if _, err := db.ThreadGet(t.Context(), waiting.ID); mews.ErrorCode(err) != mews.ENOTFOUND {
		t.Errorf("the write run during the failed sync was committed: %v", err)
	}
	calls := g.calls.Load()
	for _, write := range []func() error{
		func() error { return db.MessageThreadsAdd(t.Context(), testThread(scope)) },
		func() error { return db.Import(t.Context(), []mews.Thread{testThread(scope)}, nil) },
	} {
		if err := write(); !errors.Is(err, syscall.EIO) {
			t.Errorf("a later write: got %v, want the error of the failed sync", err)
		}
	}
	if n := g.calls.Load(); n != calls {
		t.Errorf("%d more syncs after the failure: a later sync that succeeds proves nothing", n-calls)
	}
	if _, err := db.ThreadGet(t.Context(), before.ID); err != nil {
		t.Errorf("a read after the failure: %v", err)
	}
	if n := strings.Count(logs.String(), `"level":"ERROR"`); n != 1 || !strings.Contains(logs.String(), "restart the server") {
		t.Errorf("want one error logged that says what to do, got:\n%s", logs.String())
	}
	if err := db.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Close: got %v, want the error of the failed sync", err)
	}
	// No checkpoint at Close: the log stays on the disk for the next start.
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Errorf("the log after Close: %v, %v; want it left as it is", fi, err)
	}
}

// Close answers the writes committed before it once their sync is done.
func TestCloseWaitsForTheSyncInProgress(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sync.db"))
	g, th, done := gatedAdd(t, db)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	waitStored(t, db, th.ID)
	notReturned(t, "MessageThreadsAdd", done)
	g.release <- nil
	if err := <-done; err != nil {
		t.Errorf("the write committed before Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// The syncer checks that the path of the log still names the file it
// syncs: frames synced in a file that a restart does not read are lost.
func TestALogReplacedUnderTheStoreRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	db := open(t, path)
	db.SetLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	scope := testScope()
	if err := db.MessageThreadsAdd(t.Context(), testThread(scope)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+"-wal", path+"-wal.old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := db.MessageThreadsAdd(t.Context(), testThread(scope))
	if err == nil || !strings.Contains(err.Error(), "removed or replaced") {
		t.Errorf("a write after the log was replaced: got %v", err)
	}
	if err := db.MessageThreadsAdd(t.Context(), testThread(scope)); err == nil {
		t.Error("a later write was accepted")
	}
	_ = db.Close()
}

func TestMemoryHasNoSyncer(t *testing.T) {
	db := openClosed(t, Memory)
	if db.syncer != nil {
		t.Error("an in-memory store has a syncer of the log")
	}
}

// While a sync is in progress the writer's next transaction takes at most
// maxBatch writes and then waits for that sync before it commits: it does
// not commit batch after batch behind a sync that does not end, each of
// their callers waiting for it whatever its context. A write that arrives
// then is not handed over, and its context still ends its wait.
func TestAFullBatchWaitsForTheSyncInProgress(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "sync.db"))
	g, _, done := gatedAdd(t, db)
	ran := make(chan struct{}, maxBatch)
	for range maxBatch {
		go func() {
			_ = db.writer.do(context.Background(), func(ctx context.Context, tx *txn) error {
				ran <- struct{}{}
				return nil
			})
		}()
	}
	for range maxBatch {
		<-ran // the next transaction is full, its sync not begun
	}
	// The next write waits to be handed over. Behind a sync that has not
	// ended, the writer must not take it (that it did shows as its fn
	// running); the writer is given a second to do so, then the write's
	// context ends, which must end its wait.
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan error, 1)
	taken := make(chan struct{}, 1)
	go func() {
		returned <- db.writer.do(ctx, func(context.Context, *txn) error { taken <- struct{}{}; return nil })
	}()
	select {
	case <-taken:
		t.Fatal("a write was taken into a transaction committed behind a sync that has not ended")
	case err := <-returned:
		t.Fatalf("a write returned (%v) before its context ended, with a sync in progress", err)
	case <-time.After(time.Second):
	}
	cancel()
	if err := <-returned; !errors.Is(err, context.Canceled) {
		t.Fatalf("a write whose context ended while it waited behind a sync: %v, want context.Canceled", err)
	}
	notReturned(t, "MessageThreadsAdd", done)
	g.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Two syncs of the log at once (Import's and the syncer's) share one
// descriptor, on which Linux reports a failed write-back once: the sync
// that does not get the error must not report its data durable. Import's
// sync that ends while the syncer's fails returns the failure.
func TestImportDuringAFailingSyncFails(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sync.db"))
	db.SetLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	real := db.syncer.syncFile
	db.syncer.syncFile = func() error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
			return syscall.EIO // the write-back of every page so far failed
		}
		return real() // the error already reported on this descriptor
	}
	scope := testScope()
	done := addAsync(db, testThread(scope))
	<-entered
	th := testThread(scope)
	imported := make(chan error, 1)
	go func() { imported <- db.Import(context.Background(), []mews.Thread{th}, nil) }()
	waitStored(t, db, th.ID) // committed; its sync may run beside the failing one
	select {
	case err := <-imported:
		imported <- err
	case <-time.After(time.Second):
	}
	close(release)
	if err := <-done; !errors.Is(err, syscall.EIO) {
		t.Errorf("the write whose sync failed: %v, want EIO", err)
	}
	if err := <-imported; !errors.Is(err, syscall.EIO) {
		t.Errorf("Import whose commit the failed sync may have lost: %v, want EIO", err)
	}
	_ = db.Close()
}

// The log stays the file that the syncer syncs, whatever happens to the
// write connection: database/sql replaces it when the driver reports it
// bad (an interrupt left pending), and closes the old one before it opens
// the new. A connection that closes last of those that hold the database
// (a shared lock, which a connection in WAL mode keeps from its first read
// to its close) copies the log into the database file and deletes it; the
// next connection creates another, a file the syncer does not sync. Here
// nothing else of the store holds the database when the write connection
// is replaced: the readers' idle connections closed (database/sql closes
// one that an ended context left interrupted), the raw statements closed
// (on a replaced handle they keep it open until they move), the engine's
// readers not yet used. The checkpointer's connection holds it from Open
// to Close (newCheckpointer). Without that, the write after the
// replacement failed ("the file was removed or replaced while the store
// had it open") and the store refused writes until restarted; no write
// was answered 200 with its frames in a file the syncer did not sync.
func TestTheLogOutlivesAReplacedWriteConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replaced.db")
	db := openClosed(t, path)
	db.checkpointer.stop()
	scope := testScope()
	var acked []mews.Thread
	add := func(what string) {
		t.Helper()
		th := testThread(scope)
		if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		acked = append(acked, th)
	}
	add("a write before the replacement")
	add("another write before the replacement")
	// The log all copied: a connection that closes last deletes it (with
	// frames to copy, the interrupt pending on the old write connection
	// fails the copy at its close, which then keeps the log).
	db.checkpointer.pass()
	if frames, copied := logState(t, path); copied != frames {
		t.Fatalf("%d of the log's %d frames copied, want all", copied, frames)
	}
	db.read.SetMaxIdleConns(0)
	db.read.SetMaxIdleConns(readers())
	db.checkpointer.pool.SetMaxIdleConns(0)
	db.checkpointer.pool.SetMaxIdleConns(1)
	// A setting of the connection's own tells a new one (its handle may
	// be at the freed old one's address).
	cacheSize := func() (n int) {
		t.Helper()
		if err := db.write.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := db.write.ExecContext(t.Context(), "PRAGMA cache_size = -32767"); err != nil {
		t.Fatal(err)
	}
	sqlite3.Xsqlite3_interrupt(db.writeStmts.c.tls, db.writeStmts.c.db)
	if err := db.writeStmts.close(); err != nil {
		t.Fatal(err)
	}
	add("the write that replaces the write connection")
	if n := cacheSize(); n == -32767 {
		t.Fatal("the pool kept its write connection: the test no longer replaces it")
	}
	add("a write on the new write connection")
	fi, err := os.Stat(path + "-wal")
	if err != nil || !os.SameFile(fi, db.syncer.id) {
		t.Fatalf("the log %s is not the file the syncer syncs (%v)", path+"-wal", err)
	}
	// What a restart would read: the database file and the log under
	// their names (a copy, as they are now).
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "copy.db"+suffix), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := openClosed(t, filepath.Join(dir, "copy.db"))
	for _, th := range acked {
		if _, err := again.ThreadGet(t.Context(), th.ID); err != nil {
			t.Errorf("thread %s, answered as stored, after a restart from the files: %v", th.ID, err)
		}
	}
}
