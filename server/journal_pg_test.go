package server_test

import (
	"testing"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
)

// Two servers on one PostgreSQL database, as replicas: each one's journal
// query sees the requests of both, and a clear on one clears both.
func TestJournalOfReplicasIsShared(t *testing.T) {
	dsn := pgtest.DSN(t)
	replica := func() *env {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return newEnv(t, server.Config{AdminToken: adminToken, Store: db})
	}
	a, b := replica(), replica()
	ra := a.post(pathThreadsAdd, demo("OriginalSender", "A", "Subject", "on a"))
	rb := b.post(pathThreadsAdd, demo("OriginalSender", "B", "Subject", "on b"))
	// Each replica's own read waits for what it has queued; then the
	// other's read sees it.
	a.journalCount(obj{})
	b.journalCount(obj{})
	for name, e := range map[string]*env{"a": a, "b": b} {
		seen := map[any]bool{}
		for _, en := range e.journal(nil) {
			seen[en["RequestId"]] = true
		}
		if !seen[ra.header.Get("Request-Id")] || !seen[rb.header.Get("Request-Id")] || len(seen) != 2 {
			t.Errorf("replica %s sees %v, want the requests to both", name, seen)
		}
	}
	b.wantStatus(b.admin("requests/clear", obj{}), 200)
	if n := a.journalCount(obj{}); n != 0 {
		t.Errorf("after a clear on b, a sees %d entries", n)
	}
}
