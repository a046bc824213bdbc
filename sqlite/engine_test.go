package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
	sqlite3 "modernc.org/sqlite/lib"
)

// engines returns the engine of a store in memory and of one in a file.
func engines(t *testing.T) map[string]*engine {
	return map[string]*engine{
		"Memory": openClosed(t, Memory).engine,
		"File":   openClosed(t, filepath.Join(t.TempDir(), "e.db")).engine,
	}
}

func TestEngineBindAndRead(t *testing.T) {
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			id := uuid.New()
			r, err := e.query(t.Context(), "SELECT ?, ?, ?, ?, ?, ?, typeof(?)", int64(-1<<40), 7, true, id[:], "héllo", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !r.next() {
				t.Fatalf("no row: %v", r.close())
			}
			var txt texts
			got := fmt.Sprint(r.int64(0), r.int64(1), r.bool(2), r.uuid(3), txt.string(r.text(4)), "["+txt.string(r.text(5))+"]", string(r.text(6)))
			if r.next() {
				t.Error("a second row")
			}
			if err := r.close(); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprint(int64(-1<<40), 7, true, id, "héllo", "[]", "null")
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestEngineErrors(t *testing.T) {
	e := openClosed(t, Memory).engine
	if _, err := e.query(t.Context(), "SELEC 1"); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("a syntax error: got %v", err)
	}
	if _, err := e.query(t.Context(), "SELECT ?", struct{}{}); err == nil {
		t.Error("an argument of an unknown type: no error")
	}
	// Readers refuse writes (query_only).
	r, err := e.query(t.Context(), "DELETE FROM threads")
	if err == nil {
		r.next()
		err = r.close()
	}
	if err == nil {
		t.Error("a write through a reader: no error")
	}
	// An identifier that is not 16 bytes is an error of the rows.
	r, err = e.query(t.Context(), "SELECT x'0102'")
	if err != nil {
		t.Fatal(err)
	}
	for r.next() {
		r.uuid(0)
	}
	if err := r.close(); err == nil {
		t.Error("an identifier of 2 bytes: no error")
	}
	// Each failure put its connection back: reads still work.
	if _, found, err := readPosition(t.Context(), e, "SELECT 1, 2", nil); err != nil || !found {
		t.Errorf("after the errors: %v, found %v", err, found)
	}
}

// endless never ends by itself: it counts for ever.
const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"

func TestEngineContext(t *testing.T) {
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := e.query(ctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
				t.Errorf("a done context: got %v", err)
			}
			// A statement that runs when the context ends is interrupted.
			ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, _, err := readPosition(ctx, e, endless, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("an endless query: got %v, want the deadline", err)
			}
			// The interrupt is over: the connection reads again.
			for range 2 * readers() {
				if p, _, err := readPosition(t.Context(), e, "SELECT 3, 4", nil); err != nil || p != (position{3, 4}) {
					t.Fatalf("after the interrupt: %v, %v", p, err)
				}
			}
		})
	}
}

// TestEngineConcurrent runs reads from more goroutines than there are
// connections, some cancelled at random points, and checks that the others
// all get their rows: an interrupt hits only the read of its own context.
func TestEngineConcurrent(t *testing.T) {
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 16 {
				wg.Go(func() {
					for i := range 50 {
						if (g+i)%5 == 0 {
							ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i%3)*time.Millisecond)
							_, _, err := readPosition(ctx, e, endless, nil)
							cancel()
							if !errors.Is(err, context.DeadlineExceeded) {
								errs <- fmt.Errorf("an endless query: %v", err)
							}
							continue
						}
						ids, err := readIDSet(t.Context(), e, 3,
							"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) SELECT randomblob(16) FROM c", nil)
						if err != nil || len(ids) != 300 {
							errs <- fmt.Errorf("a read of 300 ids: %d, %v", len(ids), err)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestEngineStatements reads more query texts than the cache holds: those
// beyond it are prepared and finalized each time.
func TestEngineStatements(t *testing.T) {
	e := openClosed(t, Memory).engine
	for i := range maxStmts + 10 {
		for range 2 {
			p, found, err := readPosition(t.Context(), e, fmt.Sprintf("SELECT %d, ?", i), []any{i + 1})
			if err != nil || !found || p != (position{int64(i), int64(i + 1)}) {
				t.Fatalf("query %d: %v %v %v", i, p, found, err)
			}
		}
	}
}

// TestEngineSeesWrites checks that the readers of each store see its
// committed writes at once, and that two stores in memory are two
// databases.
func TestEngineSeesWrites(t *testing.T) {
	a, b := openClosed(t, Memory), openClosed(t, Memory)
	scope := testScope()
	th := testThread(scope)
	if err := a.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	f := mews.ThreadFilter{Scope: scope, Page: mews.Page{Count: 10}}
	if got, err := a.MessageThreadsGetAll(t.Context(), f); err != nil || len(got) != 1 || got[0] != th {
		t.Errorf("the store that has it: %v, %v", got, err)
	}
	if got, err := b.MessageThreadsGetAll(t.Context(), f); err != nil || len(got) != 0 {
		t.Errorf("another store in memory: %v, %v", got, err)
	}
}

func TestEngineClosed(t *testing.T) {
	db := open(t, Memory)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: testScope(), Page: mews.Page{Count: 10}})
	if !errors.Is(err, errEngineClosed) {
		t.Errorf("a read after Close: got %v", err)
	}
}

// TestTexts checks that the strings of a page keep their bytes while the
// buffer they share fills and is replaced.
func TestTexts(t *testing.T) {
	var txt texts
	var want, got []string
	for i := range 2000 {
		s := strings.Repeat(string(rune('a'+i%26)), i%(textChunk/2))
		b := []byte(s)
		got = append(got, txt.string(b))
		clear(b) // the string is a copy
		want = append(want, s)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// TestPageAllocations bounds the allocations of a page of 100 threads and
// of 100 messages: the rows are read without database/sql's conversions,
// the text of a page shares a few buffers, and the senders are not copied.
func TestPageAllocations(t *testing.T) {
	db := openClosed(t, Memory)
	scope := testScope()
	base := time.Unix(1e9, 0).UTC()
	var thread mews.Thread
	for i := range 100 {
		thread = testThread(scope)
		thread.CreatedUTC = base.Add(time.Duration(i) * time.Second)
		thread.UpdatedUTC = thread.CreatedUTC
		if err := db.MessageThreadsAdd(t.Context(), thread); err != nil {
			t.Fatal(err)
		}
	}
	msgs := make([]mews.Message, 100)
	for i := range msgs {
		msgs[i] = mews.Message{ID: uuid.New(), ThreadID: thread.ID, Text: fmt.Sprintf("message %d", i),
			Sender: mews.SenderEnterprise, CreatedUTC: base.Add(time.Duration(200+i) * time.Second)}
	}
	if err := db.MessagesAdd(t.Context(), scope, msgs); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, c := range []struct {
		name string
		read func() (int, error)
	}{
		{"threads", func() (int, error) {
			ts, err := db.MessageThreadsGetAll(ctx, mews.ThreadFilter{Scope: scope, Page: mews.Page{Count: 100}})
			return len(ts), err
		}},
		{"messages", func() (int, error) {
			ms, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{thread.ID}, Page: mews.Page{Count: 100}})
			return len(ms), err
		}},
	} {
		var n int
		var err error
		allocs := testing.AllocsPerRun(20, func() { n, err = c.read() })
		if err != nil || n != 100 {
			t.Fatalf("%s: a page of %d: %v", c.name, n, err)
		}
		// database/sql took some 15 a row, over 1500 a page.
		if allocs > 60 {
			t.Errorf("%s: %.0f allocations for a page of 100, want at most 60", c.name, allocs)
		}
		t.Logf("%s: %.0f allocations a page of 100", c.name, allocs)
	}
}

// TestReadTx checks that the queries of a read transaction see one
// snapshot, and that ending it puts its connection back.
func TestReadTx(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "tx.db"))
	scope := testScope()
	count := func(r reader) int64 {
		t.Helper()
		p, _, err := readPosition(t.Context(), r, "SELECT count(*), 0 FROM threads", nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.created
	}
	tx, err := db.engine.begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := count(tx)
	if err := db.MessageThreadsAdd(t.Context(), testThread(scope)); err != nil {
		t.Fatal(err)
	}
	if n := count(tx); n != before {
		t.Errorf("in the transaction: %d threads, then %d", before, n)
	}
	if err := tx.end(); err != nil {
		t.Fatal(err)
	}
	if n := count(db.engine); n != before+1 {
		t.Errorf("after the transaction: %d threads, want %d", n, before+1)
	}
	// More transactions, one after the other, than there are connections.
	for range 3 * readers() {
		tx, err := db.engine.begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		count(tx)
		if err := tx.end(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMemdbSizeLimit checks that the store in memory is not bounded by
// memdb's default of 1 GiB.
func TestMemdbSizeLimit(t *testing.T) {
	e := openClosed(t, Memory).engine
	c, err := e.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer e.put(c)
	if _, err := c.cstring("main\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	arg := c.scratch + 8
	*(*int64)(c.ptr(arg)) = -1 // a negative limit asks for the current one
	if rc := sqlite3.Xsqlite3_file_control(c.tls, c.db, c.scratch, sqlite3.SQLITE_FCNTL_SIZE_LIMIT, arg); rc != sqlite3.SQLITE_OK {
		t.Fatal(c.error(rc))
	}
	if got := *(*int64)(c.ptr(arg)); got != 1<<40 {
		t.Errorf("size limit %d, want %d", got, int64(1<<40))
	}
}

// cacheCounts returns the page fetches of e's connections since they were
// opened that their page caches held (hit) and that they read from the
// file or the log (miss). Every connection must be idle.
func (e *engine) cacheCounts() (hit, miss int64) {
	e.mu.Lock()
	n := e.opened
	e.mu.Unlock()
	cs := make([]*rawConn, n)
	for i := range cs {
		cs[i] = <-e.idle
	}
	for _, c := range cs {
		hit += c.status(sqlite3.SQLITE_DBSTATUS_CACHE_HIT)
		miss += c.status(sqlite3.SQLITE_DBSTATUS_CACHE_MISS)
		e.idle <- c
	}
	return hit, miss
}

// status returns the current value of the connection's counter op of
// sqlite3_db_status.
func (c *rawConn) status(op int32) int64 {
	cur, hi := c.scratch, c.scratch+4
	if rc := sqlite3.Xsqlite3_db_status(c.tls, c.db, op, cur, hi, 0); rc != sqlite3.SQLITE_OK {
		return -1
	}
	return int64(*(*int32)(c.ptr(cur)))
}
