package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
)

// Two replicas on one PostgreSQL database: a console open on the first sees
// the writes made through the second (the change feed is the database's
// LISTEN/NOTIFY, not an in-process signal). The journal is off: its entry
// of an API request is a change too, after the write's, and would stand in
// for a write that signals none; so each write is the one change the
// stream's next event can follow.
func TestConsoleEventsFollowWritesOfAnotherReplica(t *testing.T) {
	dsn := pgtest.DSN(t)
	var urls []string
	v := apitest.NewValidator(t)
	for range 2 {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		stopping := make(chan struct{})
		h, closeFn, err := server.New(server.Config{Store: db, AdminToken: adminToken, Stopping: stopping, Journal: -1,
			RequestTimeout: time.Until(testwait.Deadline(t))}) // the stream's too
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(v.Handler(t, h))
		t.Cleanup(func() {
			close(stopping)
			ts.Close()
			_ = closeFn()
		})
		urls = append(urls, ts.URL)
	}
	sc := openEvents(t, urls[0])
	// Replica 2 is reached by URL only; postgres/changes_test.go checks the
	// feed itself between two connections, event by event.
	other := &consoleSite{t: t, ts: &httptest.Server{URL: urls[1]}, api: http.DefaultClient}
	id := other.addThread("Grace Hopper", "Through replica 2")
	readEvent(t, sc, "change")
	other.call("/_admin/v1/messageThreads/resolve", obj{"MessageThreadId": id, "IsResolved": true}, true)
	readEvent(t, sc, "change")
}
