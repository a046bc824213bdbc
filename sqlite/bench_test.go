package sqlite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/benchdata"
	"github.com/mewsref/mewsref/mews"
)

// BenchmarkPages reads pages of 100 from random cursors at two sizes of
// data: the time of a page must not grow with the data.
//
//	go test ./sqlite -run '^$' -bench Pages -benchtime 2000x
func BenchmarkPages(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("threads=%d,messages=%d", n, 5*n), func(b *testing.B) {
			db, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
			start := time.Now()
			set, err := benchdata.Load(b.Context(), db, scope, n, 5*n)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("loaded %d threads and %d messages in %s", n, 5*n, time.Since(start).Round(time.Millisecond))
			b.Run("threads", func(b *testing.B) { benchThreadsPage(b, db, set) })
			b.Run("messages", func(b *testing.B) { benchMessagesPage(b, db, set) })
		})
	}
}

// reportCPU reports, when the benchmark ends, the CPU time of the process
// (user and system, the GC's included) per iteration as cpu-ns/op: unlike
// ns/op it hardly grows when other processes share the cores.
//
//	defer reportCPU(b)()
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func benchThreadsPage(b *testing.B, db *DB, set *benchdata.Set) {
	defer reportCPU(b)()
	window := &mews.Interval{Start: set.Start, End: set.End}
	rng := rand.New(rand.NewPCG(1, 2))
	defer reportReads(b)()
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
		return mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
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
	b.Run("concurrent", func(b *testing.B) {
		db := openClosedB(b)
		scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
		b.SetParallelism(16) // 16 × GOMAXPROCS writers
		defer reportCPU(b)()
		defer reportReads(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := db.MessageThreadsAdd(b.Context(), newThread(scope)); err != nil {
					b.Fatal(err)
				}
			}
		})
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
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("MEWSREF_BENCH_ADD_THREADS")); err == nil && v >= benchdata.LongThreads {
		n = v
	}
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "add.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	set, err := benchdata.Load(b.Context(), db, scope, n, 5*n)
	if err != nil {
		b.Fatal(err)
	}
	var seed atomic.Uint64
	b.SetParallelism(16) // 32 writers on 2 CPUs
	cpu, reads := reportCPU(b), reportReads(b)
	io0 := procIO(b)
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
			if err := db.MessagesAdd(b.Context(), scope, msgs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu()
	reads()
	io1 := procIO(b)
	// Bytes and calls of write(2), pwrite(2) and the like of the whole
	// process (the log, the sub-journals, the checkpoints): what the
	// batch shape changes, whatever the load of the machine.
	b.ReportMetric(float64(io1["wchar"]-io0["wchar"])/float64(b.N), "wbytes/op")
	b.ReportMetric(float64(io1["syscw"]-io0["syscw"])/float64(b.N), "writes/op")
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
