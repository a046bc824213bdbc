package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/server"
)

// logTap is a slog handler that hands every record with message msg to a
// channel: a test waits on it instead of polling.
type logTap struct {
	msg string
	ch  chan slog.Record
}

func newLogTap(msg string) *logTap { return &logTap{msg: msg, ch: make(chan slog.Record, 100)} }

func (h *logTap) Enabled(context.Context, slog.Level) bool { return true }
func (h *logTap) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.ch <- r
	}
	return nil
}
func (h *logTap) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logTap) WithGroup(string) slog.Handler      { return h }

func (h *logTap) wait(t *testing.T) slog.Record {
	t.Helper()
	select {
	case r := <-h.ch:
		return r
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatalf("no log line %q", h.msg)
		return slog.Record{}
	}
}

// The clock gives new items their instants: a frozen clock stamps every
// item with its instant, and advancing it moves the next ones.
func TestClockDrivesCreationInstants(t *testing.T) {
	t0 := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	c := clock.Frozen(t0)
	e := newEnv(t, server.Config{Clock: c, AdminToken: adminToken})
	th := e.addThread(demoClient, demoGross, "Frozen")
	if th["CreatedUtc"] != "2030-05-01T12:00:00Z" || th["UpdatedUtc"] != "2030-05-01T12:00:00Z" {
		t.Fatalf("thread instants %v %v, want the frozen instant", th["CreatedUtc"], th["UpdatedUtc"])
	}
	if _, err := c.Advance(t.Context(), 49*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	r := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "seven weeks later"})
	e.wantStatus(r, 200)
	if got := r.body["Messages"].([]any)[0].(obj)["Message"].(obj)["CreatedUtc"]; got != "2030-06-19T12:00:00Z" {
		t.Fatalf("message CreatedUtc %v, want 2030-06-19T12:00:00Z", got)
	}
	r = e.admin("messages/add", obj{"MessageThreadId": th["Id"], "Text": "the enterprise answers"})
	e.wantStatus(r, 200)
	if got := r.body["Message"].(obj)["CreatedUtc"]; got != "2030-06-19T12:00:00Z" {
		t.Fatalf("enterprise message CreatedUtc %v", got)
	}
	// The one-month interval of messages/getAll: the message is found in
	// June and not in a May interval that ends before it.
	find := func(start, end string) int {
		r := e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "CreatedUtc", obj{"StartUtc": start, "EndUtc": end}, "Limitation", limitation(10, nil)))
		e.wantStatus(r, 200)
		return len(r.body["Messages"].([]any))
	}
	if n := find("2030-06-01T00:00:00Z", "2030-06-30T00:00:00Z"); n != 2 {
		t.Errorf("June: %d messages, want 2", n)
	}
	if n := find("2030-05-01T00:00:00Z", "2030-05-31T00:00:00Z"); n != 0 {
		t.Errorf("May: %d messages, want 0", n)
	}
}

// The rate-limit window runs on the clock: a frozen clock keeps a limited
// token limited, and advancing it past the window admits it again.
func TestClockDrivesRateLimitWindow(t *testing.T) {
	c := clock.Frozen(time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, server.Config{Clock: c, RateLimit: &server.RateLimit{Requests: 2, Window: 30 * time.Second}})
	for range 2 {
		e.wantStatus(e.getThreads(demoGross), 200)
	}
	e.expectLimited(e.getThreads(demoGross), "30")
	if _, err := c.Advance(t.Context(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	e.expectLimited(e.getThreads(demoGross), "10")
	if _, err := c.Advance(t.Context(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	e.wantStatus(e.getThreads(demoGross), 200)
}

// A failed webhook is retried a backoff later on the clock: with the clock
// frozen nothing is re-sent, and advancing it sends the retry at once, with
// no poll of the queue (the poll interval is an hour).
func TestClockAdvanceSendsDueWebhookRetries(t *testing.T) {
	type arrival struct {
		message string
		n       int // the attempt of that message
	}
	arrived := make(chan arrival, 10)
	var mu sync.Mutex
	attempts := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h webhook
		if err := json.NewDecoder(r.Body).Decode(&h); err != nil || len(h.Events) != 1 {
			t.Errorf("webhook: %v %+v", err, h)
			return
		}
		id := h.Events[0].Value.ID.String()
		mu.Lock()
		attempts[id]++
		n := attempts[id]
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		arrived <- arrival{id, n}
	}))
	defer rc.Close()
	next := func() arrival {
		t.Helper()
		select {
		case a := <-arrived:
			return a
		case <-time.After(time.Until(testwait.Deadline(t))):
			t.Fatal("no webhook arrived")
			return arrival{}
		}
	}
	tap := newLogTap("webhook attempt failed")
	c := clock.Frozen(time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC))
	e := newEnv(t, server.Config{Clock: c, AdminToken: adminToken, Logger: slog.New(tap),
		Webhooks: server.WebhookOptions{PollInterval: time.Hour, Backoff: func(int) time.Duration { return 5 * time.Minute }}})
	e.wantStatus(e.admin("webhooks/set", obj{"IntegrationId": demoIntegrationID(t, e), "Urls": []string{rc.URL}}), 200)
	th := e.addThread(demoClient, demoGross, "Retry")
	add := func(text string) string {
		r := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": text})
		e.wantStatus(r, 200)
		return r.body["Messages"].([]any)[0].(obj)["Message"].(obj)["Id"].(string)
	}
	first := add("first")
	if a := next(); a != (arrival{first, 1}) {
		t.Fatalf("arrival %+v, want the first attempt of %s", a, first)
	}
	tap.wait(t) // the failure is recorded, the retry due at 12:05
	if _, err := c.Advance(t.Context(), 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	// Not due at 12:04: the round that sends a new message's webhook does
	// not take the retry (its due time is untouched by a claim).
	second := add("second")
	if a := next(); a != (arrival{second, 1}) {
		t.Fatalf("arrival %+v, want the first attempt of %s", a, second)
	}
	tap.wait(t)
	ds := e.deliveries()
	if old := ds[len(ds)-1]; old["Attempts"] != float64(1) || old["NextAttemptUtc"] != "2030-05-01T12:05:00Z" {
		t.Fatalf("the first delivery %v: want 1 attempt, due 12:05", old)
	}
	if _, err := c.Advance(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if a := next(); a != (arrival{first, 2}) {
		t.Fatalf("arrival %+v, want the retry of %s once the clock reached 12:05", a, first)
	}
}
