package sqlite

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/benchdata"
	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/mews"
)

// BenchmarkPages reads pages of 100 from random cursors at two sizes of
// data: the time of a page must not grow with the data. cache-hits/op and
// cache-misses/op are the page fetches of the engine's connections that
// their page caches held or did not (SQLITE_DBSTATUS_CACHE_HIT, _MISS; a
// miss is a read from the file or the log); reads/op the read calls of the
// process.
//
//	go test ./sqlite -run '^$' -bench Pages -benchtime 2000x
//
// With MEWSREF_BENCH_PAGES_DIR the stores are files pages-N.db in that
// directory, loaded by the first run and only read by the next ones (no
// load under callgrind).
func BenchmarkPages(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("threads=%d,messages=%d", n, 5*n), func(b *testing.B) {
			db, set := pagesStore(b, n)
			b.Run("threads", func(b *testing.B) { benchThreadsPage(b, db, set) })
			b.Run("messages", func(b *testing.B) { benchMessagesPage(b, db, set) })
		})
	}
}

// pagesStore returns a store of n threads and 5n messages of benchdata,
// and its Set: loaded into a temporary file, or with MEWSREF_BENCH_PAGES_DIR
// opened from pages-N.db there (and pages-N.db.set, the Set in gob),
// loaded there first if it is not.
//
// A store just loaded is closed and opened again: SQLite's page caches of
// one process share one LRU (modernc.org/sqlite is built with
// SQLITE_ENABLE_MEMORY_MANAGEMENT, so pcache1 keeps one group), and a
// reader whose cache is full takes the oldest page of any connection's.
// After a load the writer's 32 MiB are full of old pages, which the
// readers would take over: the figures would depend on what the process
// did before.
func pagesStore(b *testing.B, n int) (*DB, *benchdata.Set) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	dir := os.Getenv("MEWSREF_BENCH_PAGES_DIR")
	if dir != "" {
		path = filepath.Join(dir, fmt.Sprintf("pages-%d.db", n))
	}
	set := new(benchdata.Set)
	data, err := os.ReadFile(path + ".set")
	if dir != "" && err == nil {
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(set); err != nil {
			b.Fatal(err)
		}
	} else if set, err = loadPages(b, path, n); err != nil {
		b.Fatal(err)
	}
	db, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db, set
}

// loadPages loads the store of pagesStore into the file at path, and its
// Set into path.set.
func loadPages(b *testing.B, path string, n int) (*benchdata.Set, error) {
	db, err := Open(b.Context(), path)
	if err != nil {
		return nil, err
	}
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	start := time.Now()
	set, err := benchdata.Load(b.Context(), db, scope, n, 5*n)
	if err = errors.Join(err, db.Close()); err != nil {
		return nil, err
	}
	b.Logf("loaded %d threads and %d messages in %s", n, 5*n, time.Since(start).Round(time.Millisecond))
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(set); err != nil {
		return nil, err
	}
	return set, os.WriteFile(path+".set", buf.Bytes(), 0o644)
}

// reportCache returns a func that reports, per op since the call, the page
// fetches of db's engine connections that their page caches held
// (cache-hits/op) and that they read from the file or the log
// (cache-misses/op). Every connection must be idle at both calls.
func reportCache(b *testing.B, db *DB) func() {
	hit0, miss0 := db.engine.cacheCounts()
	return func() {
		hit1, miss1 := db.engine.cacheCounts()
		b.ReportMetric(float64(hit1-hit0)/float64(b.N), "cache-hits/op")
		b.ReportMetric(float64(miss1-miss0)/float64(b.N), "cache-misses/op")
	}
}

// reportCPU reports, when the benchmark ends, the CPU time of the process
// (user and system, the GC's included) per iteration as cpu-ns/op: unlike
// ns/op it hardly grows when other processes share the cores.
//
//	defer reportCPU(b)()
func reportCPU(b *testing.B) func() {
	start := cputime.Process()
	return func() { b.ReportMetric(float64(cputime.Process()-start)/float64(b.N), "cpu-ns/op") }
}

func benchThreadsPage(b *testing.B, db *DB, set *benchdata.Set) {
	defer reportCPU(b)()
	window := &mews.Interval{Start: set.Start, End: set.End}
	rng := rand.New(rand.NewPCG(1, 2))
	defer reportReads(b)()
	defer reportCache(b, db)()
	for b.Loop() {
		// The sample is oldest first: skip the oldest, whose pages are short.
		cursor := set.Threads[100+rng.IntN(len(set.Threads)-100)]
		page, err := db.MessageThreadsGetAll(b.Context(), mews.ThreadFilter{
			Scope: set.Scope, Created: window, Page: mews.Page{Cursor: &cursor, Count: 100}})
		if err != nil || len(page) == 0 {
			b.Fatalf("page of %d: %v", len(page), err)
		}
	}
}

func benchMessagesPage(b *testing.B, db *DB, set *benchdata.Set) {
	defer reportCPU(b)()
	rng := rand.New(rand.NewPCG(1, 2))
	defer reportReads(b)()
	defer reportCache(b, db)()
	for b.Loop() {
		long := set.Long[rng.IntN(len(set.Long))]
		cursor := long.Cursors[rng.IntN(len(long.Cursors))]
		page, err := db.MessagesGetAll(b.Context(), mews.MessageFilter{
			Scope: set.Scope, ThreadIDs: []uuid.UUID{long.Thread}, Page: mews.Page{Cursor: &cursor, Count: 100}})
		if err != nil || len(page) != 100 {
			b.Fatalf("page of %d: %v", len(page), err)
		}
	}
}

// Insert throughput, durable: one writer at a time, and many at once (group
// commit shares the sync of the log among the writes that wait together).
func BenchmarkThreadsAdd(b *testing.B) {
	newThread := func(scope mews.Scope) mews.Thread {
		now := time.Now().UTC().Truncate(time.Second)
		return mews.Thread{ID: uuid.Must(uuid.NewV7()), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "a", Subject: "s", CreatedUTC: now, UpdatedUTC: now}
	}
	b.Run("single", func(b *testing.B) {
		db := openClosedB(b)
		scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
		defer reportCPU(b)()
		defer reportReads(b)()
		for b.Loop() {
			if err := db.MessageThreadsAdd(b.Context(), newThread(scope)); err != nil {
				b.Fatal(err)
			}
		}
	})
	concurrent := func(b *testing.B, db *DB, scope mews.Scope) {
		b.SetParallelism(16) // 16 × GOMAXPROCS writers
		defer reportWrites(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := db.MessageThreadsAdd(b.Context(), newThread(scope)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("concurrent", func(b *testing.B) {
		concurrent(b, openClosedB(b), mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}})
	})
	// Into the store of BenchmarkMessagesAdd, in the scope of its threads,
	// as bench's messageThreads/add does.
	// From one writer into that store: every op is a transaction of its
	// own, so its instruction count does not depend on how the scheduler
	// forms batches (for callgrind).
	b.Run("single,loaded", func(b *testing.B) {
		db, set := loadedB(b)
		defer reportWrites(b)()
		for b.Loop() {
			if err := db.MessageThreadsAdd(b.Context(), newThread(set.Scope)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("concurrent,loaded", func(b *testing.B) {
		db, set := loadedB(b)
		concurrent(b, db, set.Scope)
		reportLog(b, db)
	})
}

func openClosedB(b *testing.B) *DB {
	b.Helper()
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "add.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// benchSizes are the numbers of threads of BenchmarkPages; MEWSREF_BENCH_SMALL
// keeps only the small one, for quick runs while profiling, and
// MEWSREF_BENCH_THREADS=N replaces the large one with N.
func benchSizes() []int {
	if os.Getenv("MEWSREF_BENCH_SMALL") != "" {
		return []int{1_000}
	}
	if n, err := strconv.Atoi(os.Getenv("MEWSREF_BENCH_THREADS")); err == nil && n >= benchdata.LongThreads {
		if n == 1_000 {
			return []int{n}
		}
		return []int{1_000, n}
	}
	return []int{1_000, 1_000_000}
}

// BenchmarkMessagesAdd adds 10 messages per op to random threads of
// MEWSREF_BENCH_ADD_THREADS (default 100,000) loaded ones, from 32 writers
// at once, as bench's messages/add does: every op touches ten random thread
// rows and ten random places of the messages, and its batch shares one
// sync of the log.
//
//	go test ./sqlite -run '^$' -bench MessagesAdd -benchtime 3000x -benchmem
func BenchmarkMessagesAdd(b *testing.B) {
	db, set := loadedB(b)
	var seed atomic.Uint64
	b.SetParallelism(16) // 32 writers on 2 CPUs
	report := reportWrites(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		msgs := make([]mews.Message, 10)
		for pb.Next() {
			now := time.Now().UTC()
			for i := range msgs {
				msgs[i] = mews.Message{ID: uuid.Must(uuid.NewV7()), ThreadID: set.Threads[rng.IntN(len(set.Threads))],
					Text: "Could we check out at 2 pm?", Sender: mews.SenderApplication, CreatedUTC: now}
			}
			if err := db.MessagesAdd(b.Context(), set.Scope, msgs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	report()
	reportLog(b, db)
}

// BenchmarkMessagesAddOne is BenchmarkMessagesAdd from one writer: every
// op is a transaction of its own, so its instruction count does not depend
// on how the scheduler forms batches (for callgrind), and a change to the
// statements shows in it alone.
func BenchmarkMessagesAddOne(b *testing.B) {
	db, set := loadedB(b)
	rng := rand.New(rand.NewPCG(3, 7))
	msgs := make([]mews.Message, 10)
	report := reportWrites(b)
	b.ResetTimer()
	for range b.N {
		now := time.Now().UTC()
		for i := range msgs {
			msgs[i] = mews.Message{ID: uuid.Must(uuid.NewV7()), ThreadID: set.Threads[rng.IntN(len(set.Threads))],
				Text: "Could we check out at 2 pm?", Sender: mews.SenderApplication, CreatedUTC: now}
		}
		if err := db.MessagesAdd(b.Context(), set.Scope, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report()
}

// reportLog reports the size of db's write-ahead log in MiB: a log that is
// never restarted from its beginning grows with every write.
func reportLog(b *testing.B, db *DB) {
	var file string
	if err := db.read.QueryRowContext(b.Context(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		b.Fatal(err)
	}
	if fi, err := os.Stat(file + "-wal"); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "wal-MiB")
	}
}

// reportWrites returns a func that reports, per op since the call, the CPU
// time of the process, its read calls (reportReads) and the bytes and calls
// of write(2), pwrite(2) and the like (the log, the sub-journals, the
// checkpoints): what the batch shape changes, whatever the load of the
// machine.
func reportWrites(b *testing.B) func() {
	cpu, reads := reportCPU(b), reportReads(b)
	io0 := procIO(b)
	return func() {
		cpu()
		reads()
		io1 := procIO(b)
		b.ReportMetric(float64(io1["wchar"]-io0["wchar"])/float64(b.N), "wbytes/op")
		b.ReportMetric(float64(io1["syscw"]-io0["syscw"])/float64(b.N), "writes/op")
	}
}

// addThreads is the number of threads (and a fifth of the messages) in the
// store of the add benchmarks: MEWSREF_BENCH_ADD_THREADS, 100,000 unless
// set.
func addThreads() int {
	if v, err := strconv.Atoi(os.Getenv("MEWSREF_BENCH_ADD_THREADS")); err == nil && v >= benchdata.LongThreads {
		return v
	}
	return 100_000
}

// loaded holds the stores of benchdata that the add benchmarks write to,
// one per size, loaded once per test process (testing runs a benchmark's
// function more than once, and 1M threads take a minute to load) and
// closed by TestMain.
var loaded struct {
	sync.Mutex
	dir string
	dbs map[int]*DB
	set map[int]*benchdata.Set
}

// loadedB returns the shared store of addThreads() threads and 5× as many
// messages. The adds of one benchmark stay for the next: a few thousand
// rows more among millions.
func loadedB(b *testing.B) (*DB, *benchdata.Set) {
	b.Helper()
	n := addThreads()
	loaded.Lock()
	defer loaded.Unlock()
	if db := loaded.dbs[n]; db != nil {
		return db, loaded.set[n]
	}
	if loaded.dir == "" {
		dir, err := os.MkdirTemp("", "mewsref-bench-")
		if err != nil {
			b.Fatal(err)
		}
		loaded.dir, loaded.dbs, loaded.set = dir, map[int]*DB{}, map[int]*benchdata.Set{}
	}
	path := filepath.Join(loaded.dir, fmt.Sprintf("add-%d.db", n))
	if keep := os.Getenv("MEWSREF_BENCH_ADD_FILE"); keep != "" {
		// A file loaded by an earlier run, copied so that every run
		// starts from the same data: no load under callgrind.
		if _, err := os.Stat(keep); err != nil {
			b.Logf("loading %s", keep)
			db, err := Open(b.Context(), keep)
			if err == nil {
				_, err = benchdata.Load(context.Background(), db, benchScope(), n, 5*n)
				err = errors.Join(err, db.Close())
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := copyFile(path, keep); err != nil {
			b.Fatal(err)
		}
	}
	db, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	set, err := storedSet(b, db, os.Getenv("MEWSREF_BENCH_ADD_FILE"))
	if err != nil {
		_ = db.Close()
		b.Fatal(err)
	}
	if set == nil {
		start := time.Now()
		if set, err = benchdata.Load(context.Background(), db, benchScope(), n, 5*n); err != nil {
			_ = db.Close()
			b.Fatal(err)
		}
		b.Logf("loaded %d threads and %d messages in %s", n, 5*n, time.Since(start).Round(time.Millisecond))
	}
	loaded.dbs[n], loaded.set[n] = db, set
	return db, set
}

func benchScope() mews.Scope {
	return mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
}

// storedSet returns the Set of the threads in db (its scope, every tenth
// thread id, no long threads), or nil if it has none. With keep (the file
// db is a copy of) it reads the Set from keep.ids if there, or writes it
// there: reading every thread is most of a run under callgrind.
func storedSet(b *testing.B, db *DB, keep string) (*benchdata.Set, error) {
	if keep != "" {
		if data, err := os.ReadFile(keep + ".ids"); err == nil && len(data) >= 32 && len(data)%16 == 0 {
			ids := make([]uuid.UUID, len(data)/16)
			for i := range ids {
				copy(ids[i][:], data[16*i:])
			}
			return &benchdata.Set{Scope: mews.Scope{IntegrationID: ids[0], EnterpriseIDs: []uuid.UUID{ids[1]}}, Threads: ids[2:]}, nil
		}
	}
	set, err := scanSet(b, db)
	if err != nil || set == nil || keep == "" {
		return set, err
	}
	data := append(append([]byte{}, set.Scope.IntegrationID[:]...), set.Scope.EnterpriseIDs[0][:]...)
	for _, id := range set.Threads {
		data = append(data, id[:]...)
	}
	return set, os.WriteFile(keep+".ids", data, 0o644)
}

func scanSet(b *testing.B, db *DB) (*benchdata.Set, error) {
	rows, err := db.read.QueryContext(b.Context(), `SELECT integration_id, enterprise_id, id FROM threads`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var set *benchdata.Set
	for i := 0; rows.Next(); i++ {
		var in, e, id uuid.UUID
		if err := rows.Scan(&in, &e, &id); err != nil {
			return nil, err
		}
		if set == nil {
			set = &benchdata.Set{Scope: mews.Scope{IntegrationID: in, EnterpriseIDs: []uuid.UUID{e}}}
		}
		if i%10 == 0 {
			set.Threads = append(set.Threads, id)
		}
	}
	return set, rows.Err()
}

// copyFile copies the database file from (checkpointed: no log) to to.
func copyFile(to, from string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return errors.Join(err, dst.Close())
}

// TestMain closes the stores of loadedB and removes their files.
func TestMain(m *testing.M) {
	code := m.Run()
	loaded.Lock()
	for _, db := range loaded.dbs {
		_ = db.Close()
	}
	if loaded.dir != "" {
		_ = os.RemoveAll(loaded.dir)
	}
	loaded.Unlock()
	os.Exit(code)
}

// reportReads returns a func that reports the read(2) and pread(2) calls
// of the process per op since the call: the pages that had to be fetched
// from the file beyond SQLite's page caches, a measure that does not
// depend on the load of the machine.
func reportReads(b *testing.B) func() {
	io0 := procIO(b)
	return func() {
		io1 := procIO(b)
		b.ReportMetric(float64(io1["syscr"]-io0["syscr"])/float64(b.N), "reads/op")
	}
}

// procIO returns the counters of /proc/self/io (Linux); none elsewhere.
func procIO(b *testing.B) map[string]int64 {
	out := map[string]int64{}
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// BenchmarkMessagesPageInterleaved reads pages of 100 messages of threads
// whose messages arrived interleaved with those of the other threads, as
// they do in use (benchdata stores each long thread's messages together):
// 200 threads of 1,000 messages, added round-robin. reads/op counts the
// pages a page had to fetch beyond the page cache.
func BenchmarkMessagesPageInterleaved(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "interleaved.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	const nThreads, perThread = 200, 1000
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	threads := make([]mews.Thread, nThreads)
	for i := range threads {
		threads[i] = mews.Thread{ID: uuid.Must(uuid.NewV7()), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "Bench Guest", Subject: "Late check-out?", CreatedUTC: start, UpdatedUTC: start.Add(time.Hour)}
	}
	if err := db.Import(b.Context(), threads, nil); err != nil {
		b.Fatal(err)
	}
	cursors := make([][]uuid.UUID, nThreads)
	for j := range perThread {
		msgs := make([]mews.Message, nThreads)
		for i := range msgs {
			msgs[i] = mews.Message{ID: uuid.Must(uuid.NewV7()), ThreadID: threads[i].ID, Text: "Could we check out at 2 pm?",
				Sender: mews.SenderApplication, CreatedUTC: start.Add(time.Duration(j*nThreads+i) * time.Microsecond)}
			if j >= 100 {
				cursors[i] = append(cursors[i], msgs[i].ID)
			}
		}
		if err := db.Import(b.Context(), nil, msgs); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	defer reportCPU(b)()
	defer reportReads(b)()
	for b.Loop() {
		i := rng.IntN(nThreads)
		cursor := cursors[i][rng.IntN(len(cursors[i]))]
		page, err := db.MessagesGetAll(b.Context(), mews.MessageFilter{
			Scope: scope, ThreadIDs: []uuid.UUID{threads[i].ID}, Page: mews.Page{Cursor: &cursor, Count: 100}})
		if err != nil || len(page) != 100 {
			b.Fatalf("page of %d: %v", len(page), err)
		}
	}
}
