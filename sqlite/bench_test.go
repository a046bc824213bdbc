package sqlite

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
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
