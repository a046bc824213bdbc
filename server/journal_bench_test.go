//go:build unix

package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// BenchmarkJournal is the whole cost of a request of each operation with
// the request journal on (its default size) and off (-journal 0), one
// request after another through the handler of a server on a data file,
// as make bench serves: the request path, and the recorder's writes of
// its entry, which run on another goroutine. The journal is filled to its
// size first (MEWSREF_BENCH_JOURNAL_FILL entries, default the journal's
// size), so that its prunes are in the figure as in a long run.
// cpu-ns/op is the CPU time of the whole process per request (all its
// threads: the recorder's and the garbage collector's too, the recorder's
// last batch included), which depends less on what else the machine runs
// than ns/op.
//
//	go test ./server -run '^$' -bench Journal -benchtime 3000x -benchmem
func BenchmarkJournal(b *testing.B) {
	fill := server.DefaultJournal
	if s := os.Getenv("MEWSREF_BENCH_JOURNAL_FILL"); s != "" {
		var err error
		if fill, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	for _, journal := range []int{server.DefaultJournal, -1} {
		for _, op := range []string{"messageThreads/add", "messages/add", "messageThreads/getAll", "messages/getAll"} {
			b.Run(fmt.Sprintf("journal=%d/%s", max(journal, 0), op), func(b *testing.B) {
				benchJournal(b, journal, op, fill)
			})
		}
	}
}

func benchJournal(b *testing.B, journal int, op string, fill int) {
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	h, closeFn, err := server.New(server.Config{Store: db, Journal: journal})
	if err != nil {
		b.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := closeFn(); err != nil {
				b.Error(err)
			}
		})
	}
	defer stop()
	call := func(path string, body []byte) []byte { return serveOK(b, h, path, body) }
	creds := func(kv map[string]any) []byte {
		kv["ClientToken"], kv["AccessToken"], kv["Client"] = demoClient, demoGross, "bench 1.0"
		out, err := json.Marshal(kv)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	// The data of BenchmarkRequest: 300 threads, 300 messages in the
	// first of them.
	start := time.Now().UTC().Add(-time.Hour)
	addThread := creds(map[string]any{"OriginalSender": "Bench Guest", "Subject": "Late check-out?"})
	var threads []string
	for range 300 {
		var out struct{ MessageThreads []struct{ Id string } }
		if err := json.Unmarshal(call(pathThreadsAdd, addThread), &out); err != nil {
			b.Fatal(err)
		}
		threads = append(threads, out.MessageThreads[0].Id)
	}
	batch := func(n int, thread func(i int) string) []byte {
		msgs := make([]map[string]any, n)
		for i := range msgs {
			msgs[i] = map[string]any{"MessageThreadId": thread(i), "Text": "Could we check out at 2 pm?", "Identifier": "m" + string(rune('a'+i%26))}
		}
		return creds(map[string]any{"Messages": msgs})
	}
	long := threads[0]
	for range 3 {
		call(pathMessagesAdd, batch(100, func(int) string { return long }))
	}
	end := time.Now().UTC().Add(time.Hour)
	window := map[string]any{"StartUtc": start.Format(time.RFC3339), "EndUtc": end.Format(time.RFC3339)}
	path, body := map[string]string{
		"messageThreads/add":    pathThreadsAdd,
		"messages/add":          pathMessagesAdd,
		"messageThreads/getAll": pathThreadsGetAll,
		"messages/getAll":       pathMessagesGetAll,
	}[op], map[string][]byte{
		"messageThreads/add":    addThread,
		"messages/add":          batch(10, func(i int) string { return threads[1+i] }),
		"messageThreads/getAll": creds(map[string]any{"CreatedUtc": window, "Limitation": map[string]any{"Count": 100}}),
		"messages/getAll":       creds(map[string]any{"MessageThreadIds": []string{long}, "Limitation": map[string]any{"Count": 100}}),
	}[op]
	if journal > 0 {
		// A full journal, of pages (their 4 KiB answers): a long run's.
		pages := creds(map[string]any{"CreatedUtc": window, "Limitation": map[string]any{"Count": 100}})
		for range fill {
			call(pathThreadsGetAll, pages)
		}
	}
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		call(path, body)
	}
	stop() // the recorder writes what is queued
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
}
