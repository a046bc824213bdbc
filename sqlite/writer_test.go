package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// TestGroupCommitIsolatesFailures sends valid and invalid batches at once,
// so that they share transactions: every valid batch is stored whole, every
// invalid one leaves nothing, and none affects another.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "group.db"))
	ctx := t.Context()
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	at := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
	thread := mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
		OriginalSender: "a", Subject: "s", CreatedUTC: at, UpdatedUTC: at}
	if err := db.MessageThreadsAdd(ctx, thread); err != nil {
		t.Fatal(err)
	}
	const writers = 64
	var wg sync.WaitGroup
	valid := make([][]mews.Message, writers)
	errs := make([]error, writers)
	for i := range writers {
		batch := []mews.Message{
			{ID: uuid.New(), ThreadID: thread.ID, Text: "one", Sender: mews.SenderApplication, CreatedUTC: at},
			{ID: uuid.New(), ThreadID: thread.ID, Text: "two", Sender: mews.SenderApplication, CreatedUTC: at},
		}
		switch i % 4 {
		case 1: // fails before writing: the second message names no thread
			batch[1].ThreadID = uuid.New()
		case 3: // fails after writing the first message: a duplicate id
			batch[1].ID = batch[0].ID
		default:
			valid[i] = batch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.MessagesAdd(ctx, scope, batch)
		}()
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		switch {
		case i%2 == 0 && err != nil:
			t.Errorf("valid batch %d: %v", i, err)
		case i%4 == 1 && mews.ErrorCode(err) != mews.EINVALID:
			t.Errorf("batch %d with an unknown thread: got %v, want EINVALID", i, err)
		case i%4 == 3 && err == nil:
			t.Errorf("batch %d with a duplicate id was accepted", i)
		}
		want += len(valid[i])
	}
	got, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{thread.ID}, Page: mews.Page{Count: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[uuid.UUID]bool{}
	for _, m := range got {
		stored[m.ID] = true
	}
	if len(got) != want {
		t.Errorf("%d messages stored, want %d (the valid batches only)", len(got), want)
	}
	for i, batch := range valid {
		for _, m := range batch {
			if !stored[m.ID] {
				t.Errorf("message of valid batch %d lost", i)
			}
		}
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "closed.db"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err := db.MessageThreadsAdd(t.Context(), mews.Thread{ID: uuid.New()})
	if !errors.Is(err, errClosed) {
		t.Errorf("got %v, want errClosed", err)
	}
}

// TestCheckpointerEmptiesTheLog checks that the writer leaves checkpoints
// to the checkpointer, and that the log is emptied at Close with the data
// intact.
func TestCheckpointerEmptiesTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	db := open(t, path)
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	at := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
	var ids []uuid.UUID
	for range 50 {
		th := mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "a", Subject: "s", CreatedUTC: at, UpdatedUTC: at}
		if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, th.ID)
	}
	var auto int
	if err := db.write.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Errorf("the writer checkpoints every %d pages itself", auto)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("log of %d bytes left after Close", fi.Size())
	}
	db = openClosed(t, path)
	got, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, IDs: ids, Page: mews.Page{Count: 100}})
	if err != nil || len(got) != len(ids) {
		t.Fatalf("after reopening: %d threads, %v", len(got), err)
	}
}

// A write whose caller gives up while its statement runs must not take the
// other writes of its transaction with it: the driver interrupts the
// statement of a context that ends, and SQLite answers an interrupted write
// inside a transaction by rolling back the whole transaction. The writes
// after it would then commit each on its own, with seq values the rolled
// back transaction had reserved, and a later write would reuse them.
func TestGroupCommitOutlivesACallerThatGivesUp(t *testing.T) {
	ctx := context.Background()
	db := openClosed(t, filepath.Join(t.TempDir(), "mews.db"))
	scope := testScope()
	th1, th3 := testThread(scope), testThread(scope)
	th3.CreatedUTC, th3.UpdatedUTC = th1.CreatedUTC, th1.UpdatedUTC // a tie: seq decides
	gone, cancel := context.WithCancel(ctx)
	batch := []*job{
		{ctx: ctx, single: true, done: make(chan struct{}), fn: func(ctx context.Context, tx *txn) error {
			return db.addThreads(ctx, tx, th1)
		}},
		{ctx: gone, done: make(chan struct{}), fn: func(ctx context.Context, tx *txn) error {
			time.AfterFunc(5*time.Millisecond, cancel) // the caller gives up while the statement runs
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000)
				INSERT INTO webhooks (integration_id, url) SELECT randomblob(16), 'u' || x FROM c`)
			return err
		}},
		{ctx: ctx, single: true, done: make(chan struct{}), fn: func(ctx context.Context, tx *txn) error {
			return db.addThreads(ctx, tx, th3)
		}},
	}
	db.writer.run(batch)
	for i, j := range batch {
		if j.err != nil {
			t.Errorf("job %d of the batch failed: %v", i, j.err)
		}
	}
	// Later writes get fresh seq values, whatever happened above.
	for range 3 {
		if err := db.MessageThreadsAdd(ctx, testThread(scope)); err != nil {
			t.Fatalf("a later thread: %v", err)
		}
	}
	var n, distinct int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT seq) FROM threads`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 5 || distinct != 5 {
		t.Errorf("threads stored: %d with %d distinct seq values; want 5 and 5", n, distinct)
	}
}

// Closing a store twice is harmless, on a file and in memory.
func TestCloseTwice(t *testing.T) {
	for _, path := range []string{filepath.Join(t.TempDir(), "twice.db"), Memory} {
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("%s: close: %v", path, err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("%s: second close: %v", path, err)
		}
	}
}

// Under a steady stream of writes the checkpointer's pass copies the log
// while the writer's transaction of the moment adds to it, so the log is
// never all copied when a transaction begins, and SQLite never starts it
// again from its beginning: it grew by every frame written. After a pass,
// the writer copies what the pass left, and its next transaction starts
// the log again.
func TestLogStartsAgainUnderSteadyWrites(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "log.db"))
	db.checkpointer.stop() // the test runs its passes
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	thread := func() mews.Thread {
		at := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
		return mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "a", Subject: "s", CreatedUTC: at, UpdatedUTC: at}
	}
	for range 20 { // 20 commits: at least 20 frames
		if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
			t.Fatal(err)
		}
	}
	// A transaction that begins before the pass and commits after it.
	began, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- db.writer.do(t.Context(), func(ctx context.Context, tx *txn) error {
			err := db.addThreads(ctx, tx, thread())
			close(began)
			<-release
			return err
		})
	}()
	<-began
	db.checkpointer.pass()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.MessageThreadsAdd(t.Context(), thread()); err != nil {
		t.Fatal(err)
	}
	var busy, log, copied int
	if err := db.checkpointer.conn.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied); err != nil {
		t.Fatal(err)
	}
	if log > 10 {
		t.Errorf("the log holds %d frames after the last write, not only its own few: it was not started again", log)
	}
}
