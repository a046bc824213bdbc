package client

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// The client sends the instants of an interval with their full precision and
// their offset, as given.
func TestIntervalsSentWithFullPrecision(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, map[string]any{"MessageThreads": []any{}, "Messages": []any{}, "Cursor": nil})
	})
	c, _ := newTestClient(t, s)
	start := time.Date(2026, 12, 1, 21, 4, 3, 219_219_123, time.FixedZone("EET", 2*3600))
	end := start.Add(time.Hour).UTC()
	iv := &gen.TimeInterval{StartUtc: start, EndUtc: end}
	if _, err := c.GetThreads(context.Background(), ThreadsQuery{CreatedUtc: iv, UpdatedUtc: iv}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMessages(context.Background(), MessagesQuery{MessageThreadIds: []uuid.UUID{id(1)}, CreatedUtc: iv}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"StartUtc": "2026-12-01T21:04:03.219219123+02:00", "EndUtc": "2026-12-01T20:04:03.219219123Z"}
	for i, r := range s.requests() {
		body := r.decode(t)
		for _, filter := range []string{"CreatedUtc", "UpdatedUtc"} {
			if i == 1 && filter == "UpdatedUtc" {
				continue
			}
			got, _ := body[filter].(map[string]any)
			if got["StartUtc"] != want["StartUtc"] || got["EndUtc"] != want["EndUtc"] {
				t.Errorf("%s %s = %v, want %v", r.Path, filter, got, want)
			}
		}
	}
}

// Note the time, write, read since: with the server in-process and its
// clock a little after the client's, the client's own instant as the start
// of an interval holds what it wrote, for all three filters.
func TestNoteTheTimeWriteReadSince(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 19, 4, 3, 500_000_000, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h, closeFn, err := server.New(server.Config{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	c, err := New(apitest.Server(t, h).URL, testCreds)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	since := func(t0 time.Time) *gen.TimeInterval {
		return &gen.TimeInterval{StartUtc: t0, EndUtc: t0.Add(time.Hour)}
	}

	t0 := time.Date(2026, 12, 1, 21, 4, 3, 219_219_000, time.FixedZone("EET", 2*3600)) // 19:04:03.219219Z
	th, err := c.AddThread(ctx, AddThreadRequest{OriginalSender: "Guest", Subject: "since"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.GetThreads(ctx, ThreadsQuery{CreatedUtc: since(t0)})
	if err != nil || len(page.Threads) != 1 || page.Threads[0].Id != th.Id {
		t.Fatalf("threads created since %v: %+v, %v; want the thread", t0, page.Threads, err)
	}

	mu.Lock()
	now = now.Add(400 * time.Millisecond) // 19:04:03.9
	mu.Unlock()
	t1 := time.Date(2026, 12, 1, 19, 4, 3, 700_000_001, time.UTC)
	added, err := c.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: th.Id, Text: "Hello"}})
	if err != nil {
		t.Fatal(err)
	}
	page, err = c.GetThreads(ctx, ThreadsQuery{UpdatedUtc: since(t1)})
	if err != nil || len(page.Threads) != 1 || page.Threads[0].Id != th.Id {
		t.Errorf("threads updated since %v: %+v, %v; want the thread", t1, page.Threads, err)
	}
	msgs, err := c.GetMessages(ctx, MessagesQuery{MessageThreadIds: []uuid.UUID{th.Id}, CreatedUtc: since(t1)})
	if err != nil || len(msgs.Messages) != 1 || msgs.Messages[0].Id != added[0].Message.Id {
		t.Errorf("messages created since %v: %+v, %v; want the message", t1, msgs.Messages, err)
	}
	page, err = c.GetThreads(ctx, ThreadsQuery{CreatedUtc: since(t1)})
	if err != nil || len(page.Threads) != 0 {
		t.Errorf("threads created since %v: %+v, %v; want none (created at .5)", t1, page.Threads, err)
	}
}
