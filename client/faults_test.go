package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// The retry policy against the real server with injected faults (see
// server.FaultConfig): the failures are the server's own 408, 429 and 500
// answers, with its bodies and headers. Waits are recorded, not slept.

// faultyServer runs the server with the faults of spec and counts the
// requests per path.
type faultyServer struct {
	url  string
	mu   sync.Mutex
	hits map[string]int
}

func newFaultyServer(t *testing.T, spec string, seed uint64) *faultyServer {
	t.Helper()
	faults, err := server.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	faults.Seed = seed
	h, closeFn, err := server.New(server.Config{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	fs := &faultyServer{hits: map[string]int{}}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.hits[r.URL.Path]++
		fs.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	fs.url = apitest.Server(t, counted).URL
	return fs
}

func (fs *faultyServer) requests(path string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits[path]
}

func (fs *faultyServer) client(t *testing.T, p RetryPolicy) (*Client, *sleeper) {
	t.Helper()
	sl := &sleeper{}
	c, err := New(fs.url, testCreds, WithRetry(p), withSleeper(sl), withMaxJitter())
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

func TestRetriesInjectedTooManyRequestsAfterRetryAfter(t *testing.T) {
	fs := newFaultyServer(t, "*:429=0.5,retry-after=2s", 7)
	c, sl := fs.client(t, RetryPolicy{MaxAttempts: 30})
	ctx := context.Background()
	const calls = 20
	for i := range calls {
		th, err := c.AddThread(ctx, AddThreadRequest{OriginalSender: "a", Subject: "b"})
		if err != nil {
			t.Fatalf("AddThread %d: %v", i, err)
		}
		if _, err := c.GetMessages(ctx, MessagesQuery{MessageThreadIds: []uuid.UUID{th.Id}}); err != nil {
			t.Fatalf("GetMessages %d: %v", i, err)
		}
	}
	waits := sl.recorded()
	if len(waits) == 0 {
		t.Fatal("no 429 was injected; the test proved nothing")
	}
	for _, w := range waits {
		if w != 2*time.Second {
			t.Fatalf("waited %s, want the Retry-After of 2s", w)
		}
	}
	// Writes are retried after a 429 too: the rate limit refuses a request
	// before it is processed. Each wait is one more request.
	sent := fs.requests(pathThreadsAdd) + fs.requests(pathMessagesGetAll)
	if sent != 2*calls+len(waits) {
		t.Errorf("%d requests for %d calls and %d retries", sent, 2*calls, len(waits))
	}
	page, err := c.GetThreads(ctx, ThreadsQuery{UpdatedUtc: aroundNow(), Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Threads) != calls {
		t.Errorf("%d threads stored for %d calls", len(page.Threads), calls)
	}
	t.Logf("%d calls, %d injected 429s retried", 2*calls, len(waits))
}

func TestWritesAreNotRetriedAfterAnInjected500(t *testing.T) {
	fs := newFaultyServer(t, "messages/add:500=1", 1)
	c, sl := fs.client(t, RetryPolicy{})
	ctx := context.Background()
	th, err := c.AddThread(ctx, AddThreadRequest{OriginalSender: "a", Subject: "b"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: th.Id, Text: "once"}})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || !strings.HasPrefix(apiErr.Message, "Injected fault") || apiErr.RequestId == "" {
		t.Fatalf("want the injected 500 as *Error, got %v", err)
	}
	if n := fs.requests(pathMessagesAdd); n != 1 || len(sl.recorded()) != 0 {
		t.Errorf("messages/add sent %d times, %d waits; a write must not be retried after a 500 by default", n, len(sl.recorded()))
	}
	page, err := c.GetMessages(ctx, MessagesQuery{MessageThreadIds: []uuid.UUID{th.Id}})
	if err != nil || len(page.Messages) != 0 {
		t.Errorf("an injected 500 is raised before the write: %v, %v", page.Messages, err)
	}
}

func TestReadsAreRetriedAfterInjected408And500(t *testing.T) {
	fs := newFaultyServer(t, "messageThreads/getAll:408=0.3,500=0.3", 3)
	c, sl := fs.client(t, RetryPolicy{MaxAttempts: 30})
	ctx := context.Background()
	const calls = 20
	for i := range calls {
		if _, err := c.GetThreads(ctx, ThreadsQuery{UpdatedUtc: aroundNow()}); err != nil {
			t.Fatalf("GetThreads %d: %v", i, err)
		}
	}
	retries := fs.requests(pathThreadsGetAll) - calls
	if retries == 0 || retries != len(sl.recorded()) {
		t.Errorf("%d retries, %d waits", retries, len(sl.recorded()))
	}
	for i, w := range sl.recorded() {
		if w <= 0 || w > DefaultMaxDelay {
			t.Errorf("wait %d: %s, want a backoff in (0, %s]", i, w, DefaultMaxDelay)
		}
	}
	t.Logf("%d calls, %d injected 408/500 retried", calls, retries)
}

func TestRetryWritesAfterInjected500AddsEachThreadOnce(t *testing.T) {
	fs := newFaultyServer(t, "messageThreads/add:500=0.5", 5)
	c, sl := fs.client(t, RetryPolicy{MaxAttempts: 30, RetryWrites: true})
	ctx := context.Background()
	const calls = 10
	for i := range calls {
		if _, err := c.AddThread(ctx, AddThreadRequest{OriginalSender: "a", Subject: "b"}); err != nil {
			t.Fatalf("AddThread %d: %v", i, err)
		}
	}
	if len(sl.recorded()) == 0 {
		t.Fatal("no 500 was injected; the test proved nothing")
	}
	// The injected 500s come before the write, so retrying adds no
	// duplicate here; a real 500 may come after it (see RetryPolicy).
	page, err := c.GetThreads(ctx, ThreadsQuery{UpdatedUtc: aroundNow(), Count: 1000})
	if err != nil || len(page.Threads) != calls {
		t.Errorf("%d threads stored for %d calls (%v)", len(page.Threads), calls, err)
	}
}

// aroundNow is an UpdatedUtc interval around now, within the 3 months
// the API allows.
func aroundNow() *gen.TimeInterval {
	now := time.Now().UTC()
	return &gen.TimeInterval{StartUtc: now.AddDate(0, -1, 0), EndUtc: now.AddDate(0, 1, 0)}
}

// TestWaitingAsToldPassesTheRateLimit: the server's rate limit on a fake
// clock, and a client whose waits advance that clock. Every call succeeds,
// each 429 is followed by exactly the wait the server asked for, and that
// wait is enough: no request is refused twice in a row.
func TestWaitingAsToldPassesTheRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h, closeFn, err := server.New(server.Config{Now: clock, RateLimit: &server.RateLimit{Requests: 3, Window: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	url := apitest.Server(t, h).URL
	var waits []time.Duration
	advance := func(c *config) {
		c.sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			now = now.Add(d)
			return ctx.Err()
		}
		c.now = clock
	}
	c, err := New(url, testCreds, WithRetry(RetryPolicy{MaxAttempts: 2}), advance)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		mu.Lock()
		now = now.Add(4 * time.Second) // a call every 4 seconds of the fake clock
		mu.Unlock()
		if _, err := c.GetThreads(context.Background(), ThreadsQuery{UpdatedUtc: &gen.TimeInterval{StartUtc: now, EndUtc: now}}); err != nil {
			t.Fatalf("call %d: %v (MaxAttempts 2: the first wait was not enough)", i, err)
		}
	}
	// Calls at 4, 8, 12 fill the window; the call at 16 waits until 34,
	// when the call at 4 has left it; and so on.
	if len(waits) == 0 || waits[0] != 18*time.Second {
		t.Errorf("waits %v, want the first to be 18s", waits)
	}
}
