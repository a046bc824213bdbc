package sqlite

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mewsref/mewsref/mews"
)

// logState reads from the -shm file of the database at path the frames of
// its log (mxFrame of the wal-index header) and those copied into the
// database file (nBackfill of the checkpoint info that follows the header's
// two copies), without checkpointing: https://sqlite.org/walformat.html.
func logState(t *testing.T, path string) (frames, copied uint32) {
	t.Helper()
	b, err := os.ReadFile(path + "-shm")
	if err != nil || len(b) < 100 {
		t.Fatalf("the wal-index of %s: %v (%d bytes)", path, err, len(b))
	}
	return binary.NativeEndian.Uint32(b[16:]), binary.NativeEndian.Uint32(b[96:])
}

func checkpointScope() (mews.Scope, func() mews.Thread) {
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	return scope, func() mews.Thread {
		at := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
		return mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "a", Subject: "s", CreatedUTC: at, UpdatedUTC: at}
	}
}

// writeDuringCopies makes the checkpointer's next pass find the log grown
// during each of its first n copies, as the writer's steady commits make
// it grow: a write's transaction is open when each of those copies begins
// (so that its commit appends to the log, not starts it again) and commits
// (and is synced) right after the copy, which saw less than there is. It
// returns the count of copies and a func, to call after the pass, that
// commits a write still waiting for a copy.
func writeDuringCopies(t *testing.T, db *DB, thread func() mews.Thread, n int32) (*atomic.Int32, func()) {
	t.Helper()
	start := func() (chan struct{}, chan error) {
		began, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- db.writer.do(context.Background(), func(ctx context.Context, tx *txn) error {
				err := db.addThreads(ctx, tx, thread())
				close(began)
				<-release
				return err
			})
		}()
		<-began
		return release, done
	}
	release, done := start()
	var copies atomic.Int32
	db.checkpointer.copied = func(log, backfilled int) {
		k := copies.Add(1)
		if k > n {
			return
		}
		close(release)
		if err := <-done; err != nil {
			t.Errorf("the write during copy %d: %v", k, err)
		}
		release = nil
		if k < n {
			release, done = start()
		}
	}
	return &copies, func() {
		db.checkpointer.copied = nil
		if release != nil {
			close(release)
			<-done
		}
	}
}

// A pass copies, beside the writer, what the writer committed during its
// first copy too, after syncing the database file, so that the writer's own
// copy between two transactions (catchUp), which holds up every write, has
// only the last frames to copy and the last pages to sync. It copied
// everything committed during a pass of ~85 ms, ~860 pages, and synced
// the database file with all the pass's pages dirty: 80 ms on average.
func TestAPassCopiesWhatWasCommittedDuringIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pass.db")
	db := openClosed(t, path)
	db.checkpointer.stop() // the test runs its passes
	_, thread := checkpointScope()
	for range 20 {
		if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
			t.Fatal(err)
		}
	}
	var syncs atomic.Int32
	var syncedAt uint32
	db.checkpointer.syncFile = func() error {
		syncs.Add(1)
		_, syncedAt = logState(t, path)
		return datasync(db.checkpointer.file)
	}
	copies, finish := writeDuringCopies(t, db, thread, 1)
	frames0, _ := logState(t, path)
	db.checkpointer.pass()
	finish()
	frames, copied := logState(t, path)
	if frames <= frames0 {
		t.Fatalf("the write during the pass added no frame (%d, then %d)", frames0, frames)
	}
	if copied != frames {
		t.Errorf("after the pass %d of the log's %d frames are copied: the frames committed during its first copy were left to the writer", copied, frames)
	}
	// The second copy found more than the first, so the third: it copied
	// what the first saw and what came after, then the third found
	// nothing new. Its sync after the second copy (needless here: the
	// second copied the whole log, and SQLite synced the database file)
	// is made because a copy cannot tell whether it saw the whole log.
	if n := copies.Load(); n != 3 {
		t.Errorf("%d copies in the pass, want 3", n)
	}
	if syncs.Load() != 1 || syncedAt == 0 {
		t.Errorf("the database file synced %d times during the pass (after %d frames copied), want once after the second copy", syncs.Load(), syncedAt)
	}
	if !db.logBehind.Load() {
		t.Error("the pass did not leave the rest to the writer")
	}
	// The writer's next transaction starts the log again.
	if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
		t.Fatal(err)
	}
	if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
		t.Fatal(err)
	}
	if frames, _ := logState(t, path); frames > 10 {
		t.Errorf("the log holds %d frames after two writes: it was not started again", frames)
	}
}

// A pass that finds nothing new after its first copy syncs nothing itself:
// SQLite synced the database file at the end of a copy of the whole log.
func TestAQuietPassSyncsNothingMore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quiet.db")
	db := openClosed(t, path)
	db.checkpointer.stop()
	_, thread := checkpointScope()
	for range 5 {
		if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
			t.Fatal(err)
		}
	}
	var syncs, copies atomic.Int32
	db.checkpointer.syncFile = func() error { syncs.Add(1); return nil }
	db.checkpointer.copied = func(int, int) { copies.Add(1) }
	db.checkpointer.pass()
	if frames, copied := logState(t, path); copied != frames {
		t.Errorf("%d of %d frames copied", copied, frames)
	}
	if syncs.Load() != 0 || copies.Load() != 2 {
		t.Errorf("a pass with no write beside it: %d syncs of its own and %d copies, want 0 and 2", syncs.Load(), copies.Load())
	}
}

// A failed sync of the database file after a partial copy is a failed sync
// of the store: the pages it did not make durable may be gone from the page
// cache, and readers read the copied pages from the file, no longer from
// the log. Writes are refused, nothing more is copied, and the log, which
// still holds every frame, is left for the next start to replay.
func TestAFailedSyncOfTheDatabaseFileFailsTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dbsync.db")
	db := open(t, path)
	var logs bytes.Buffer
	var mu sync.Mutex
	db.SetLogger(slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)))
	db.checkpointer.stop()
	_, thread := checkpointScope()
	for range 20 {
		if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
			t.Fatal(err)
		}
	}
	eio := errors.New("input/output error")
	db.checkpointer.syncFile = func() error { return eio }
	copies, finish := writeDuringCopies(t, db, thread, 2)
	db.checkpointer.pass()
	finish()
	if n := copies.Load(); n != 2 {
		t.Errorf("%d copies in the pass whose sync after the second copy failed, want 2 (none after it)", n)
	}
	err := db.MessageThreadsAdd(t.Context(), thread())
	if !errors.Is(err, eio) {
		t.Errorf("a write after the failed sync of the database file: %v, want it refused with the failure", err)
	}
	frames, copied := logState(t, path)
	db.checkpointer.pass()
	if f, c := logState(t, path); f != frames || c != copied {
		t.Errorf("a pass after the failure changed the log: %d/%d frames copied, then %d/%d", copied, frames, c, f)
	}
	if copied == frames {
		t.Errorf("all %d frames copied although the last copy was not synced", frames)
	}
	if err := db.Close(); err == nil {
		t.Log("Close after the failure returned nil")
	}
	mu.Lock()
	defer mu.Unlock()
	if n := bytes.Count(logs.Bytes(), []byte("level=ERROR")); n != 1 {
		t.Errorf("%d errors logged, want 1:\n%s", n, logs.String())
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Errorf("the log after Close: %v, want it left for the next start", err)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Under writes from many callers at once, with the checkpointer at its own
// pace, the log keeps starting again from its beginning: its frames stay
// few and its file small, whatever the number of writes.
func TestTheLogStaysBoundedUnderSteadyWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("writes for 2 s")
	}
	path := filepath.Join(t.TempDir(), "steady.db")
	db := openClosed(t, path)
	scope, thread := checkpointScope()
	threads := make([]mews.Thread, 50)
	for i := range threads {
		threads[i] = thread()
		if err := db.MessageThreadsAdd(t.Context(), threads[i]); err != nil {
			t.Fatal(err)
		}
	}
	// The writes go on for 2 s, and then until the log has started again
	// twice, for at most 30 s: on a loaded machine (2 cores, -race, other
	// tests) 2 s held as few as 40 writes and one restart.
	start := time.Now()
	var stopped atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 16 {
		wg.Go(func() {
			for i := 0; !stopped.Load(); i++ {
				msgs := make([]mews.Message, 10)
				for k := range msgs {
					msgs[k] = mews.Message{ID: uuid.Must(uuid.NewV7()), ThreadID: threads[(w*7+i+k)%len(threads)].ID,
						Text: "Could we check out at 2 pm?", Sender: mews.SenderApplication, CreatedUTC: time.Now().UTC()}
				}
				if err := db.MessagesAdd(t.Context(), scope, msgs); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		})
	}
	var most, restarts, total, last uint32
	for elapsed := time.Duration(0); elapsed < 2*time.Second || restarts < 2 && elapsed < 30*time.Second; elapsed = time.Since(start) {
		frames, _ := logState(t, path)
		most = max(most, frames)
		if frames < last {
			restarts++
			total += last
		}
		last = frames
		time.Sleep(5 * time.Millisecond)
	}
	stopped.Store(true)
	wg.Wait()
	total += last
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes of 10 messages; the log started again %d times, at most %d frames of some %d seen, its file %.1f MiB", writes.Load(), restarts, most, total, float64(fi.Size())/(1<<20))
	if restarts < 2 {
		t.Errorf("the log started again %d times in %s of writes (passes every %s)", restarts, time.Since(start).Round(time.Second), checkpointEvery)
	}
	// A log never started again would hold every frame written. (Not
	// half of them: with few writes, on a slow machine, one interval
	// between two restarts can hold most of them; seen in CI at 65 writes.)
	if most >= total {
		t.Errorf("the log held up to %d frames of some %d written: it grows with the writes", most, total)
	}
}

// logged returns the records logged as JSON into b, under mu.
func logged(t *testing.T, b *bytes.Buffer, mu *sync.Mutex) []map[string]any {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	var recs []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		recs = append(recs, r)
	}
	return recs
}

// jsonLogs sets db's logger to one that writes JSON into a buffer, and
// returns a func that reads the records logged so far.
func jsonLogs(t *testing.T, db *DB) func() []map[string]any {
	var b bytes.Buffer
	var mu sync.Mutex
	db.SetLogger(slog.New(slog.NewJSONHandler(&lockedWriter{w: &b, mu: &mu}, nil)))
	return func() []map[string]any { return logged(t, &b, &mu) }
}

// fakeClock sets the checkpointer's clock to one that moves only by
// advance, which returns the new time.
func fakeClock(db *DB) (advance func(time.Duration) time.Time) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC).UnixNano())
	db.checkpointer.now = func() time.Time { return time.Unix(0, now.Load()).UTC() }
	return func(d time.Duration) time.Time { return time.Unix(0, now.Add(int64(d))).UTC() }
}

// A checkpoint that fails (here a failed write into the database file,
// then a full disk) leaves the log as it was, with every frame not yet
// copied, for the next one: the store goes on, and the failures are
// logged at the first, when the error changes and every
// checkpointLogEvery while it lasts, not at every pass; a checkpoint that
// succeeds again is logged once. One that finds another checkpoint running
// (busy) is not a failure.
func TestAFailedCheckpointIsRetriedAndLogged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckfail.db")
	db := openClosed(t, path)
	db.checkpointer.stop()
	logs := jsonLogs(t, db)
	advance := fakeClock(db)
	var fail atomic.Pointer[codeError]
	var busy, busyRecovering atomic.Bool
	db.checkpointer.checkpoint = func(conn queryer, mode string) (int, int, int, error) {
		if busy.Load() {
			return 1, -1, -1, nil
		}
		if busyRecovering.Load() { // another process sharing the file recovers its log
			return 0, -1, -1, &codeError{code: sqlite3.SQLITE_BUSY_RECOVERY, err: errors.New("database is locked")}
		}
		if e := fail.Load(); e != nil {
			return 0, -1, -1, e
		}
		return runCheckpoint(conn, mode)
	}
	_, thread := checkpointScope()
	for range 5 {
		if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
			t.Fatal(err)
		}
	}
	eio := &codeError{code: sqlite3.SQLITE_IOERR_WRITE, err: errors.New("disk I/O error")}
	full := &codeError{code: sqlite3.SQLITE_FULL, err: errors.New("database or disk is full")}
	errorsLogged := func() (n int, last map[string]any) {
		for _, r := range logs() {
			if r["level"] == "ERROR" {
				n, last = n+1, r
			}
		}
		return n, last
	}
	fail.Store(eio)
	pass := func(k int) {
		for range k {
			db.checkpointer.pass()
			advance(checkpointEvery)
		}
	}
	pass(3)
	busy.Store(true)
	pass(2) // not failures
	busy.Store(false)
	busyRecovering.Store(true)
	pass(2) // nor these
	busyRecovering.Store(false)
	if n, last := errorsLogged(); n != 1 || last["error"] != eio.Error() || last["database"] != db.checkpointer.file.Name() || last["failures_in_a_row"] != 1.0 {
		t.Errorf("after 3 failed checkpoints: %d errors logged, the last %v; want one, of the first, with the file and the error", n, last)
	}
	if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
		t.Errorf("a write after failed checkpoints: %v", err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping after failed checkpoints, which lose nothing: %v", err)
	}
	fail.Store(full)
	pass(1)
	if n, last := errorsLogged(); n != 2 || last["error"] != full.Error() || last["failures_in_a_row"] != 4.0 {
		t.Errorf("after the error changed: %d errors logged, the last %v; want 2, the last of failure 4 with the new error", n, last)
	}
	// The error of failure 4, a minute of passes later.
	minute := int(checkpointLogEvery / checkpointEvery)
	pass(minute - 1)
	if n, _ := errorsLogged(); n != 2 {
		t.Errorf("%d errors logged in the minute after the error changed, want 2", n)
	}
	pass(1)
	inARow := 4 + minute
	if n, last := errorsLogged(); n != 3 || last["failures_in_a_row"] != float64(inARow) || last["failures_not_logged"] != float64(minute-1) {
		t.Errorf("after %d failures in a row, the same error for %s: %d errors logged, the last %v; want 3", inARow, checkpointLogEvery, n, last)
	}
	fail.Store(nil)
	pass(1)
	if frames, copied := logState(t, path); frames == 0 || copied != frames {
		t.Errorf("the pass after the failures copied %d of %d frames", copied, frames)
	}
	recs := logs()
	if last := recs[len(recs)-1]; last["level"] != "WARN" || last["failed"] != float64(inARow) {
		t.Errorf("the checkpoint that succeeded after %d failures logged %v", inARow, last)
	}
	pass(1)
	if n := len(logs()); n != len(recs) {
		t.Errorf("a pass that succeeded after one that succeeded logged %d records", n-len(recs))
	}
}

// Checkpoints that fail between successes (each pass's first copy
// succeeds, its second fails) are logged as a failure that lasts: the
// first, then each error at most once every checkpointLogEvery, and the
// first success after an error logged. They logged an error and a
// recovery at every pass, four lines a second. An error that changes is
// logged at once, unless it was logged less than checkpointLogEvery ago.
func TestCheckpointFailuresBetweenSuccessesAreLoggedOnceAMinute(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "ckalt.db"))
	db.checkpointer.stop()
	logs := jsonLogs(t, db)
	advance := fakeClock(db)
	eio := &codeError{code: sqlite3.SQLITE_IOERR_WRITE, err: errors.New("disk I/O error")}
	full := &codeError{code: sqlite3.SQLITE_FULL, err: errors.New("database or disk is full")}
	var fail atomic.Pointer[codeError]
	var calls atomic.Int64
	db.checkpointer.checkpoint = func(queryer, string) (int, int, int, error) {
		if e := fail.Load(); e != nil && calls.Add(1)%2 == 0 {
			return 0, -1, -1, e
		}
		return 0, 10, 10, nil // the first copy: it found frames
	}
	pass := func(e *codeError, k int) {
		fail.Store(e)
		for range k {
			db.checkpointer.pass()
			advance(checkpointEvery)
		}
	}
	lines := func() (errs []any, warns int) {
		for _, r := range logs() {
			switch r["level"] {
			case "ERROR":
				errs = append(errs, r["error"])
			case "WARN":
				warns++
				if r["failed"] != 1.0 {
					t.Errorf("a recovery after %v failures, want 1: %v", r["failed"], r)
				}
			}
		}
		return errs, warns
	}
	want := func(when string, errs []any, warns int) {
		t.Helper()
		if e, w := lines(); !slices.Equal(e, errs) || w != warns {
			t.Errorf("%s: %d errors (the last %v) and %d recoveries logged, want %v and %d", when, len(e), e[max(0, len(e)-3):], w, errs, warns)
		}
	}
	minute := int(checkpointLogEvery / checkpointEvery)
	pass(eio, minute)
	want("a minute of passes failing between successes", []any{eio.Error()}, 1)
	pass(eio, 1)
	want("the pass a minute after the first", []any{eio.Error(), eio.Error()}, 1)
	// It counts the failures of the minute, not those since the last
	// success (which logged nothing).
	var r map[string]any
	for _, l := range logs() {
		if l["level"] == "ERROR" {
			r = l
		}
	}
	if r["failures_not_logged"] != float64(minute-1) {
		t.Errorf("the error a minute after the first: failures_not_logged %v, want %d: %v", r["failures_not_logged"], minute-1, r)
	}
	pass(full, 1)
	want("another error", []any{eio.Error(), eio.Error(), full.Error()}, 2)
	pass(eio, 1)
	want("the first error again, logged less than a minute ago", []any{eio.Error(), eio.Error(), full.Error()}, 3)
	pass(nil, 1)
	want("a success after a failure not logged", []any{eio.Error(), eio.Error(), full.Error()}, 3)
}

// The checkpoint at Close that fails is logged as the last: nothing retries
// it (its line said the checkpoints are retried every 250 ms), and it is
// logged although the same error was logged less than a minute before.
func TestAFailedCheckpointAtCloseIsLoggedAsTheLast(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "ckclose.db"))
	db.checkpointer.stop()
	logs := jsonLogs(t, db)
	eio := &codeError{code: sqlite3.SQLITE_IOERR_WRITE, err: errors.New("disk I/O error")}
	db.checkpointer.checkpoint = func(queryer, string) (int, int, int, error) { return 0, -1, -1, eio }
	db.checkpointer.pass()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, r := range logs() {
		if r["level"] == "ERROR" && r["error"] == eio.Error() {
			msgs = append(msgs, r["msg"].(string)+" "+r["action"].(string))
		}
	}
	if len(msgs) != 2 {
		t.Fatalf("%d errors logged for a failed pass and the failed checkpoint at Close, want 2: %q", len(msgs), msgs)
	}
	if m := msgs[1]; !strings.Contains(m, "at close") || strings.Contains(m, "retried") {
		t.Errorf("the failed checkpoint at Close logged %q: want it said the last, not retried", m)
	}
}

// A checkpoint whose sync fails (SQLITE_IOERR_FSYNC: of the log, which it
// syncs before it copies, or of the database file after) is a failed sync
// of the store, as the checkpointer's own sync: writes are refused, the
// store is not ready, and the log is left for the next start.
func TestAFailedSyncInACheckpointFailsTheStore(t *testing.T) {
	for _, who := range []string{"pass", "catchUp"} {
		t.Run(who, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cksync.db")
			db := open(t, path)
			db.checkpointer.stop()
			logs := jsonLogs(t, db)
			fsync := &codeError{code: sqlite3.SQLITE_IOERR_FSYNC, err: errors.New("disk I/O error")}
			var armed atomic.Bool
			db.checkpointer.checkpoint = func(conn queryer, mode string) (int, int, int, error) {
				if armed.Load() && (who == "pass") == (conn == queryer(db.checkpointer.conn)) {
					return 0, -1, -1, fsync
				}
				return runCheckpoint(conn, mode)
			}
			_, thread := checkpointScope()
			for range 5 {
				if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
					t.Fatal(err)
				}
			}
			armed.Store(true)
			if who == "pass" {
				db.checkpointer.pass()
			} else {
				// The writer copies after its next batch, before or
				// after that batch's sync: the batch may be refused.
				db.logBehind.Store(true)
				_ = db.MessageThreadsAdd(t.Context(), thread())
			}
			err := db.MessageThreadsAdd(t.Context(), thread())
			if !errors.As(err, new(*codeError)) || !strings.Contains(err.Error(), "refuses writes") {
				t.Errorf("a write after the failed sync of a checkpoint: %v, want it refused with the failure", err)
			}
			if err := db.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "checkpoint's sync") {
				t.Errorf("Ping after the failed sync of a checkpoint: %v, want the failure", err)
			}
			n := 0
			for _, r := range logs() {
				if r["level"] == "ERROR" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d errors logged, want 1: %v", n, logs())
			}
			if err := db.Close(); err == nil {
				t.Error("Close after the failure returned nil")
			}
			if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
				t.Errorf("the log after Close: %v, want it left for the next start", err)
			}
		})
	}
}
