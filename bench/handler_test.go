package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mewsref/mewsref/internal/benchdata"
	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// BenchmarkHandler drives, in process (ServeHTTP, no network), the three
// handlers behind the ratio that make bench prints, with make bench's own
// request bodies (newBodies) on a small data set (2,000 threads, 30,000
// messages, SQLite in memory, or with MEWSREF_BENCH_FILE=1 in a file in
// b.TempDir, as served):
//
//   - baseline: newBaseline, answering the server's bytes; the ceiling.
//   - server: server.New on the SQLite store, as make bench serves it.
//   - path: server.New on a store that answers without storing (stubStore):
//     the server's request path alone, from ServeHTTP to the store call and
//     back. path minus baseline is what the server adds around its store.
//
// cpu-ns/op is the CPU time of the process per request (getrusage: the
// store's goroutines and the GC included). The journal is off unless
// MEWSREF_BENCH_JOURNAL=1.
//
//	go test ./bench -run '^$' -bench Handler -benchmem
func BenchmarkHandler(b *testing.B) {
	hs := newHandlers(b)
	for _, t := range hs.targets {
		for _, o := range ops {
			b.Run(t.name+"/"+o.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				cpu := cputime.Process()
				for b.Loop() {
					call(b, t.h, o.path, hs.bodies.next(o, 0, i))
					i++
				}
				b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkHTTP is BenchmarkHandler through net/http on loopback, as make
// bench sends its requests (load's post, keep-alive connections): one
// connection at a time, or with MEWSREF_BENCH_CONNS=n that many at once
// (make bench: 32), so that the adds of a file are committed in groups.
// cpu-ns/op is then server and client together, as in make bench, where
// they share the process: when make bench is bound by the CPU, its ratio is
// about baseline's cpu-ns/op over the server's.
//
//	go test ./bench -run '^$' -bench HTTP -benchmem
func BenchmarkHTTP(b *testing.B) {
	conns := 1
	if n, err := strconv.Atoi(os.Getenv("MEWSREF_BENCH_CONNS")); err == nil && n > 0 {
		conns = n
	}
	hs := newHandlers(b)
	for _, t := range hs.targets {
		url, stop, err := serve(t.h)
		if err != nil {
			b.Fatal(err)
		}
		tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
		hc := &http.Client{Transport: tr}
		for _, o := range ops {
			b.Run(t.name+"/"+o.name, func(b *testing.B) {
				b.ReportAllocs()
				var next atomic.Int64
				cpu := cputime.Process()
				if conns == 1 {
					for b.Loop() {
						post1(b, hc, url+o.path, hs.bodies.next(o, 0, int(next.Add(1))))
					}
				} else {
					b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						w := int(next.Add(1))
						for i := 0; pb.Next(); i++ {
							post1(b, hc, url+o.path, hs.bodies.next(o, w, i))
						}
					})
				}
				b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
		tr.CloseIdleConnections()
		stop()
	}
}

func post1(b *testing.B, hc *http.Client, url string, body []byte) {
	if status, err := post(hc, url, body); err != nil || status != http.StatusOK {
		b.Errorf("%s: %d %v", url, status, err)
	}
}

type handlers struct {
	bodies  *bodies
	targets []struct {
		name string
		h    http.Handler
	}
}

func newHandlers(b *testing.B) *handlers {
	ctx := context.Background()
	path := ":memory:"
	if os.Getenv("MEWSREF_BENCH_FILE") != "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	data, err := benchdata.Load(ctx, store, benchScope, 2000, 30000)
	if err != nil {
		b.Fatal(err)
	}
	journal := -1
	if os.Getenv("MEWSREF_BENCH_JOURNAL") != "" {
		journal = 0 // server.DefaultJournal
	}
	newServer := func(st mews.Store) http.Handler {
		h, closeFn, err := server.New(server.Config{Store: st, Tokens: tokenConfig(), Journal: journal})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := closeFn(); err != nil {
				b.Error(err)
			}
		})
		return h
	}
	srv := newServer(store)
	hs := &handlers{bodies: newBodies(data)}
	// The baseline answers with the bytes the server gives (capture).
	canned := map[string][]byte{}
	for _, o := range ops {
		canned[o.path] = bytes.TrimSuffix(call(b, srv, o.path, hs.bodies.next(o, 0, 0)), []byte("\n"))
	}
	hs.targets = []struct {
		name string
		h    http.Handler
	}{{"baseline", newBaseline(canned)}, {"server", srv}, {"path", newServer(&stubStore{DB: store})}}
	return hs
}

// call serves one request in process. The answers are not validated
// (apitest): that would measure kin-openapi, not the handlers; the
// server's tests validate the answers of every operation.
func call(b *testing.B, h http.Handler, path string, body []byte) []byte {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// stubStore is the SQLite store with the four operations of the messaging
// API answered without the engine: adds are accepted, each page is the
// first page the store gave for the operation. Controls (fault rules, the
// shared clock) and everything else stay SQLite's.
type stubStore struct {
	*sqlite.DB
	mu       sync.Mutex
	threads  []mews.Thread
	messages []mews.Message
}

func (s *stubStore) MessageThreadsAdd(context.Context, mews.Thread) error { return nil }

func (s *stubStore) MessagesAdd(context.Context, mews.Scope, []mews.Message) error { return nil }

func (s *stubStore) MessageThreadsGetAll(ctx context.Context, f mews.ThreadFilter) ([]mews.Thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.threads == nil {
		t, err := s.DB.MessageThreadsGetAll(ctx, f)
		if err != nil {
			return nil, err
		}
		s.threads = t
	}
	return s.threads, nil
}

func (s *stubStore) MessagesGetAll(ctx context.Context, f mews.MessageFilter) ([]mews.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.messages == nil {
		m, err := s.DB.MessagesGetAll(ctx, f)
		if err != nil {
			return nil, err
		}
		s.messages = m
	}
	return s.messages, nil
}
