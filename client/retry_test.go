package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
)

var anyThreads = ThreadsQuery{CreatedUtc: &gen.TimeInterval{}}

// failThenSucceed answers the first len(statuses) requests with those
// statuses (and Retry-After retryAfter when not ""), then a page.
func failThenSucceed(statuses []int, retryAfter string) func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		if n < len(statuses) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			writeAPIError(w, statuses[n], "attempt "+strconv.Itoa(n), "req-"+strconv.Itoa(n))
			return
		}
		switch r.URL.Path {
		case pathThreadsAdd:
			writeJSON(w, 200, gen.MessageThreadAddResult{MessageThreads: threadFixtures(1)})
		case pathMessagesAdd:
			writeJSON(w, 200, gen.AddedMessageResult{Messages: []gen.AddedMessage{}})
		default:
			writeJSON(w, 200, gen.MessageThreadResult{MessageThreads: threadFixtures(1), Cursor: &threadFixtures(1)[0].Id})
		}
	}
}

func equalWaits(t *testing.T, got, want []time.Duration) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestRetriesTooManyRequestsAfterRetryAfter(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{429, 429}, "7"))
	c, sl := newTestClient(t, s)
	page, err := c.GetThreads(context.Background(), anyThreads)
	if err != nil {
		t.Fatalf("GetThreads: %v", err)
	}
	if len(page.Threads) != 1 {
		t.Errorf("page has %d threads, want 1", len(page.Threads))
	}
	if got := len(s.requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	equalWaits(t, sl.recorded(), []time.Duration{7 * time.Second, 7 * time.Second})
}

func TestRetriesTooManyRequestsForWrites(t *testing.T) {
	// A rate-limited request was not processed, so a write is resent too.
	s := newStub(t, failThenSucceed([]int{429}, "2"))
	c, sl := newTestClient(t, s)
	if _, err := c.AddMessages(context.Background(), []gen.MessageParameters{{MessageThreadId: id(1), Text: "hi"}}); err != nil {
		t.Fatalf("AddMessages: %v", err)
	}
	reqs := s.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if !bytes.Equal(reqs[0].Body, reqs[1].Body) || len(reqs[1].Body) == 0 {
		t.Errorf("retried body differs:\n%s\n%s", reqs[0].Body, reqs[1].Body)
	}
	equalWaits(t, sl.recorded(), []time.Duration{2 * time.Second})
}

func TestTooManyRequestsWithoutRetryAfterBacksOff(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{429}, ""))
	c, sl := newTestClient(t, s, WithRetry(RetryPolicy{BaseDelay: 300 * time.Millisecond}))
	if _, err := c.GetThreads(context.Background(), anyThreads); err != nil {
		t.Fatal(err)
	}
	equalWaits(t, sl.recorded(), []time.Duration{300 * time.Millisecond})
}

func TestRetryAfterLongerThanMaxIsReturned(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{429}, "120"))
	c, sl := newTestClient(t, s, WithRetry(RetryPolicy{MaxRetryAfter: 30 * time.Second}))
	_, err := c.GetThreads(context.Background(), anyThreads)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.RetryAfter != 120*time.Second {
		t.Fatalf("err = %#v, want *Error 429 with RetryAfter 2m", err)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	equalWaits(t, sl.recorded(), nil)
}

func TestRetryAfterPastDeadlineIsReturned(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{429}, "10"))
	c, sl := newTestClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.GetThreads(ctx, anyThreads)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.RetryAfter != 10*time.Second {
		t.Fatalf("err = %v, want the 429 *Error rather than waiting past the deadline", err)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	equalWaits(t, sl.recorded(), nil)
}

func TestRetriesServerErrorsWithBoundedBackoff(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504, 408} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			s := newStub(t, failThenSucceed([]int{status, status, status, status, status}, ""))
			c, sl := newTestClient(t, s, WithRetry(RetryPolicy{
				MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond,
			}))
			_, err := c.GetThreads(context.Background(), anyThreads)
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Message != "attempt 3" {
				t.Fatalf("err = %v, want *Error %d of the 4th attempt", err, status)
			}
			if got := len(s.requests()); got != 4 {
				t.Errorf("%d requests, want MaxAttempts = 4", got)
			}
			// The jitter is pinned to its ceiling: doubling, capped by MaxDelay.
			equalWaits(t, sl.recorded(), []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond})
		})
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{503, 500}, ""))
	c, sl := newTestClient(t, s)
	if _, err := c.GetMessages(context.Background(), MessagesQuery{MessageThreadIds: []uuid.UUID{id(1)}}); err != nil {
		t.Fatalf("GetMessages: %v", err)
	}
	if got := len(s.requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	equalWaits(t, sl.recorded(), []time.Duration{DefaultBaseDelay, 2 * DefaultBaseDelay})
}

func TestServiceUnavailableHonoursRetryAfter(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{503}, "3"))
	c, sl := newTestClient(t, s)
	if _, err := c.GetThreads(context.Background(), anyThreads); err != nil {
		t.Fatal(err)
	}
	equalWaits(t, sl.recorded(), []time.Duration{3 * time.Second})
}

func TestNoRetryOnClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413, 415, 501} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			s := newStub(t, failThenSucceed([]int{status}, "1"))
			c, sl := newTestClient(t, s)
			_, err := c.GetThreads(context.Background(), anyThreads)
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.RequestId != "req-0" || apiErr.Message != "attempt 0" {
				t.Fatalf("err = %v, want *Error %d attempt 0 req-0", err, status)
			}
			if got := len(s.requests()); got != 1 {
				t.Errorf("%d requests, want 1", got)
			}
			equalWaits(t, sl.recorded(), nil)
		})
	}
}

func TestWritesAreNotRetriedAfterAmbiguousFailuresByDefault(t *testing.T) {
	for _, status := range []int{500, 503, 408} {
		s := newStub(t, failThenSucceed([]int{status}, ""))
		c, sl := newTestClient(t, s)
		_, err := c.AddThread(context.Background(), AddThreadRequest{OriginalSender: "a", Subject: "b"})
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
			t.Errorf("%d: err = %v, want *Error %d", status, err, status)
		}
		if got := len(s.requests()); got != 1 {
			t.Errorf("%d: %d requests, want 1", status, got)
		}
		equalWaits(t, sl.recorded(), nil)
	}
}

func TestWritesAreRetriedWhenRetryWrites(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{500, 503}, ""))
	c, sl := newTestClient(t, s, WithRetry(RetryPolicy{RetryWrites: true}))
	if _, err := c.AddMessages(context.Background(), []gen.MessageParameters{{MessageThreadId: id(1), Text: "hi"}}); err != nil {
		t.Fatalf("AddMessages: %v", err)
	}
	reqs := s.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		checkEnvelope(t, r, pathMessagesAdd)
		if !bytes.Equal(r.Body, reqs[0].Body) {
			t.Errorf("attempt %d body = %s, want %s", i, r.Body, reqs[0].Body)
		}
	}
	equalWaits(t, sl.recorded(), []time.Duration{DefaultBaseDelay, 2 * DefaultBaseDelay})
}

func TestWithoutRetries(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{503}, ""))
	c, sl := newTestClient(t, s, WithoutRetries())
	if _, err := c.GetThreads(context.Background(), anyThreads); err == nil {
		t.Fatal("no error")
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	equalWaits(t, sl.recorded(), nil)
}

// refusedURL returns the address of a port that nobody listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

func TestRetriesConnectionRefusedForReadsAndWrites(t *testing.T) {
	sl := &sleeper{}
	c, err := New(refusedURL(t), testCreds, withSleeper(sl), withMaxJitter(), WithRetry(RetryPolicy{MaxAttempts: 3}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetThreads(context.Background(), anyThreads)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("GetThreads err = %v, want connection refused", err)
	}
	// Nothing reached the server, so even a write is safe to resend.
	_, err = c.AddThread(context.Background(), AddThreadRequest{OriginalSender: "a", Subject: "b"})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("AddThread err = %v, want connection refused", err)
	}
	equalWaits(t, sl.recorded(), []time.Duration{DefaultBaseDelay, 2 * DefaultBaseDelay, DefaultBaseDelay, 2 * DefaultBaseDelay})
}

// hangUp closes the connection without answering the first `times` requests.
func hangUp(t *testing.T, times int) func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		if n < times {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.Close()
			return
		}
		failThenSucceed(nil, "")(w, r, n, body)
	}
}

func TestRetriesLostConnectionForReadsOnly(t *testing.T) {
	s := newStub(t, hangUp(t, 2))
	c, sl := newTestClient(t, s)
	if _, err := c.GetThreads(context.Background(), anyThreads); err != nil {
		t.Fatalf("GetThreads: %v", err)
	}
	if got := len(s.requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	equalWaits(t, sl.recorded(), []time.Duration{DefaultBaseDelay, 2 * DefaultBaseDelay})

	// The server may have acted on a write before the connection broke.
	w := newStub(t, hangUp(t, 1))
	c, sl = newTestClient(t, w)
	if _, err := c.AddThread(context.Background(), AddThreadRequest{OriginalSender: "a", Subject: "b"}); err == nil {
		t.Fatal("AddThread after a lost connection: no error")
	}
	if got := len(w.requests()); got != 1 {
		t.Errorf("write: %d requests, want 1", got)
	}
	equalWaits(t, sl.recorded(), nil)
}

func TestCancellationWhileWaitingStopsRetrying(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{503, 503, 503}, ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, sl := newTestClient(t, s)
	sl.then = cancel // the context ends during the first wait

	_, err := c.GetThreads(ctx, anyThreads)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Errorf("err = %v, want it to carry the last answer, *Error 503", err)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	if got := len(sl.recorded()); got != 1 {
		t.Errorf("%d waits, want 1", got)
	}
}

func TestCancellationInterruptsRealWait(t *testing.T) {
	s := newStub(t, failThenSucceed([]int{503, 503}, ""))
	c, err := New(s.srv.URL, testCreds, withMaxJitter(),
		WithRetry(RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.GetThreads(ctx, anyThreads)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("returned after %v, want right after the cancellation", d)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestCancelledContextSendsNothing(t *testing.T) {
	s := newStub(t, failThenSucceed(nil, ""))
	c, sl := newTestClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetThreads(ctx, anyThreads); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := len(s.requests()); got != 0 {
		t.Errorf("%d requests, want 0", got)
	}
	equalWaits(t, sl.recorded(), nil)
}

func TestBackoffFullJitterBounds(t *testing.T) {
	d := &retryDoer{
		policy: RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults(),
		jitter: defaultJitter,
	}
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, c := range ceilings {
		ceiling := c * time.Millisecond
		seen := map[time.Duration]bool{}
		for range 200 {
			w := d.backoff(i + 1)
			if w < 0 || w > ceiling {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", i+1, w, ceiling)
			}
			seen[w] = true
		}
		if len(seen) < 10 {
			t.Errorf("backoff(%d) took only %d distinct values in 200 draws; want jitter", i+1, len(seen))
		}
	}
	// A huge attempt number neither overflows nor exceeds MaxDelay.
	if w := d.backoff(1000); w < 0 || w > time.Second {
		t.Errorf("backoff(1000) = %v", w)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"5", 5 * time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Mon, 01 Jan 2024 12:00:10 GMT", 10 * time.Second, true},
		{"Mon, 01 Jan 2024 11:00:00 GMT", 0, true},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := parseRetryAfter("99999999999999999", now); !ok || got <= 0 {
		t.Errorf("huge Retry-After = %v, %v; want a positive clamped duration", got, ok)
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	want := RetryPolicy{MaxAttempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second, MaxRetryAfter: 30 * time.Second}
	if got := DefaultRetryPolicy(); got != want {
		t.Errorf("DefaultRetryPolicy() = %+v, want %+v", got, want)
	}
	if got := (RetryPolicy{MaxAttempts: 2, RetryWrites: true}).withDefaults(); got.MaxAttempts != 2 || !got.RetryWrites || got.BaseDelay != DefaultBaseDelay {
		t.Errorf("withDefaults kept/filled wrongly: %+v", got)
	}
}
