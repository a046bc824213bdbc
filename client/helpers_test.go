package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
)

// testCreds are the public demo credentials of the reference.
var testCreds = Credentials{
	ClientToken: "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
	AccessToken: "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
	Client:      "mewsref client tests 1.0",
}

const (
	pathThreadsGetAll  = "/api/connector/v1/messageThreads/getAll"
	pathThreadsAdd     = "/api/connector/v1/messageThreads/add"
	pathMessagesGetAll = "/api/connector/v1/messages/getAll"
	pathMessagesAdd    = "/api/connector/v1/messages/add"
)

// recorded is one request as the stub server saw it.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into a generic map, to check which properties
// were sent at all.
func (r recorded) decode(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("request body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// stub is an httptest.Server that records every request and answers with
// handle; n is the 0-based index of the request.
type stub struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	handle func(w http.ResponseWriter, r *http.Request, n int, body []byte)
}

func newStub(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *stub {
	t.Helper()
	s := &stub{handle: handle}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("stub: reading body: %v", err)
		}
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		s.handle(w, r, n, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if w.Header().Get("Request-Id") == "" {
		w.Header().Set("Request-Id", "hdr-"+uuid.NewString())
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeAPIError answers the API's error body; requestID "" sends null.
func writeAPIError(w http.ResponseWriter, status int, message, requestID string) {
	var id any
	if requestID != "" {
		id = requestID
		w.Header().Set("Request-Id", requestID)
	}
	writeJSON(w, status, map[string]any{"Message": message, "RequestId": id, "Details": nil})
}

// sleeper records the waits asked of it instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
	// then, if set, runs on each wait (e.g. to cancel a context).
	then func()
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	then := s.then
	s.mu.Unlock()
	if then != nil {
		then()
	}
	return ctx.Err()
}

func (s *sleeper) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// withSleeper makes the client record its waits instead of waiting.
func withSleeper(s *sleeper) Option {
	return func(c *config) { c.sleep = s.sleep }
}

// withMaxJitter makes the full jitter deterministic: always the ceiling.
func withMaxJitter() Option {
	return func(c *config) { c.jitter = func(n int64) int64 { return n - 1 } }
}

// newTestClient returns a client of s that records its waits in the
// returned sleeper.
func newTestClient(t *testing.T, s *stub, opts ...Option) (*Client, *sleeper) {
	t.Helper()
	sl := &sleeper{}
	c, err := New(s.srv.URL, testCreds, append([]Option{withSleeper(sl), withMaxJitter()}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, sl
}

func id(i int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
}

var t0 = time.Date(2024, 3, 7, 16, 9, 45, 0, time.UTC)

// threadFixtures returns n threads, newest first.
func threadFixtures(n int) []gen.MessageThread {
	out := make([]gen.MessageThread, n)
	for i := range out {
		created := t0.Add(-time.Duration(i) * time.Minute)
		out[i] = gen.MessageThread{
			Id: id(i + 1), OriginalSender: fmt.Sprintf("Guest %d", i+1), Subject: "Subject",
			CreatedUtc: created, UpdatedUtc: created,
		}
	}
	return out
}

// messageFixtures returns n messages of thread, newest first.
func messageFixtures(thread uuid.UUID, n int) []gen.Message {
	out := make([]gen.Message, n)
	for i := range out {
		out[i] = gen.Message{
			Id: id(1000 + i), MessageThreadId: thread, Text: fmt.Sprintf("message %d", i),
			Sender:     gen.Sender{Discriminator: gen.Application},
			CreatedUtc: t0.Add(-time.Duration(i) * time.Second),
		}
	}
	return out
}

// pageOf answers a cursor-paginated request the way the API does: the
// items strictly older than the cursor item, at most Count of them.
func pageOf[T any](t *testing.T, items []T, idOf func(T) uuid.UUID, body []byte) ([]T, *uuid.UUID) {
	t.Helper()
	var req struct {
		Limitation gen.Limitation
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("stub: bad body: %v", err)
		return nil, nil
	}
	start := 0
	if req.Limitation.Cursor != nil {
		start = -1
		for i, it := range items {
			if idOf(it) == *req.Limitation.Cursor {
				start = i + 1
			}
		}
		if start < 0 {
			t.Errorf("stub: unknown cursor %s", req.Limitation.Cursor)
			return nil, nil
		}
	}
	end := min(start+int(req.Limitation.Count), len(items))
	page := items[start:end]
	if len(page) == 0 {
		return []T{}, nil
	}
	last := idOf(page[len(page)-1])
	return page, &last
}
