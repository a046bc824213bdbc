package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// BenchmarkRequest drives the whole server handler in process, as
// http.Server would call it, one request per op: what a request of each
// operation costs in CPU and allocations, the network left out. The store
// is SQLite in memory, so that ns/op is the request path and the engine
// rather than the disk's fsync; MEWSREF_BENCH_FILE=1 uses a file in
// t.TempDir instead (durable writes, as served). The request journal is
// off; MEWSREF_BENCH_JOURNAL=1 turns it on. The pages are of 100 items
// after a cursor, as bench's are: the next of 200 cursors each request.
//
//	go test ./server -run '^$' -bench Request -benchmem -count 5
func BenchmarkRequest(b *testing.B) {
	path := ":memory:"
	if os.Getenv("MEWSREF_BENCH_FILE") != "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	store, err := sqlite.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cfg := server.Config{Store: store, Journal: -1}
	if os.Getenv("MEWSREF_BENCH_JOURNAL") != "" {
		cfg.Journal = 0 // server.DefaultJournal
	}
	h, closeFn, err := server.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := closeFn(); err != nil {
			b.Error(err)
		}
	}()
	call := func(b *testing.B, path string, body []byte) []byte { return serveOK(b, h, path, body) }
	creds := func(kv map[string]any) []byte {
		kv["ClientToken"], kv["AccessToken"], kv["Client"] = demoClient, demoGross, "bench 1.0"
		out, err := json.Marshal(kv)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}

	// Data for the pages: 300 threads, 300 messages in the first of them.
	start := time.Now().UTC().Add(-time.Hour)
	addThread := creds(map[string]any{"OriginalSender": "Bench Guest", "Subject": "Late check-out?"})
	var threads []string
	for range 300 {
		var out struct{ MessageThreads []struct{ Id string } }
		if err := json.Unmarshal(call(b, pathThreadsAdd, addThread), &out); err != nil {
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
	var messages []string // of long, oldest first
	for range 3 {
		var out struct {
			Messages []struct{ Message struct{ Id string } }
		}
		if err := json.Unmarshal(call(b, pathMessagesAdd, batch(100, func(int) string { return long })), &out); err != nil {
			b.Fatal(err)
		}
		for _, m := range out.Messages {
			messages = append(messages, m.Message.Id)
		}
	}
	end := time.Now().UTC().Add(time.Hour)
	window := map[string]any{"StartUtc": start.Format(time.RFC3339), "EndUtc": end.Format(time.RFC3339)}
	// Pages of 100 from cursors that have at least 100 older items, as
	// bench's pages have, each request the next cursor.
	var threadsPages, messagesPages [][]byte
	for _, cursor := range threads[100:] {
		threadsPages = append(threadsPages, creds(map[string]any{"CreatedUtc": window,
			"Limitation": map[string]any{"Count": 100, "Cursor": cursor}}))
	}
	for _, cursor := range messages[100:] {
		messagesPages = append(messagesPages, creds(map[string]any{"MessageThreadIds": []string{long},
			"Limitation": map[string]any{"Count": 100, "Cursor": cursor}}))
	}
	addMessages := batch(10, func(i int) string { return threads[1+i] })

	for _, bc := range []struct {
		name, path string
		bodies     [][]byte // one after the other
	}{
		{"messageThreads/add", pathThreadsAdd, [][]byte{addThread}},
		{"messages/add", pathMessagesAdd, [][]byte{addMessages}},
		{"messageThreads/getAll", pathThreadsGetAll, threadsPages},
		{"messages/getAll", pathMessagesGetAll, messagesPages},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				call(b, bc.path, bc.bodies[i%len(bc.bodies)])
				i++
			}
		})
	}
}

// serveOK has h serve a POST of body to path, as http.Server would, and
// returns the answer, failing b unless it is a 200. The answer is not
// validated (apitest): that would measure kin-openapi, not the server;
// the tests validate the answers of every operation.
func serveOK(b *testing.B, h http.Handler, path string, body []byte) []byte {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}
