package server_test

import (
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
)

// replicas starts n servers on one PostgreSQL database, as behind a load
// balancer; they share the wall clock of the first env.
func replicas(t *testing.T, n int, cfg server.Config) []*env {
	dsn := pgtest.DSN(t)
	var out []*env
	for range n {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c := cfg
		c.Store = db
		out = append(out, newEnv(t, c))
	}
	return out
}

// Two replicas, 32 clients: a rule of Count 20 strikes exactly 20 requests
// between them, never the last strike twice.
func TestFaultRuleAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2, server.Config{AdminToken: adminToken})
	concurrentStrikes(t, rs, 20)
	// A rule added through one replica strikes at the next request
	// through the other, and is cleared for both.
	rs[0].addRule(obj{"Operation": "messages/getAll", "Status": 503, "Count": 2})
	e := rs[1]
	get := func() response {
		return e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{"0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30"}, "Limitation", limitation(1, nil)))
	}
	e.wantStatus(get(), 503)
	rs[1].wantStatus(rs[1].admin("faults/clear", obj{}), 200)
	rs[0].wantStatus(get(), 200)
}

// The clock is one for all replicas: set through one, the next request
// through another stamps its instant, and a set to the past is refused by
// every replica.
func TestClockSharedByReplicas(t *testing.T) {
	rs := replicas(t, 2, server.Config{AdminToken: adminToken})
	rs[0].wantStatus(rs[0].admin("clock/set", obj{"NowUtc": "2029-02-03T04:05:06Z"}), 200)
	th := rs[1].addThread(demoClient, demoGross, "shared clock")
	if th["CreatedUtc"] != "2029-02-03T04:05:06Z" {
		t.Fatalf("replica 1 stamped %v", th["CreatedUtc"])
	}
	// So does the journal's entry of that request, although replica 1
	// learned of the change only with the request's fault-rule read.
	if en := rs[1].journal(nil); len(en) != 1 || en[0]["CreatedUtc"] != "2029-02-03T04:05:06Z" {
		t.Fatalf("journal %v", en)
	}
	rs[1].wantStatus(rs[1].admin("clock/advance", obj{"Seconds": 3600}), 200)
	if r := rs[0].admin("clock/get", obj{}); r.body["NowUtc"] != "2029-02-03T05:05:06Z" || r.body["Mode"] != "frozen" {
		t.Fatalf("replica 0 reads %v", r.body)
	}
	rs[0].wantStatus(rs[0].admin("clock/set", obj{"NowUtc": "2029-02-03T04:30:00Z"}), 400)
	rs[1].wantStatus(rs[1].admin("clock/release", obj{}), 200)
	rs[0].clock.Advance(10 * time.Second) // replica 0's wall clock
	if r := rs[0].admin("clock/get", obj{}); r.body["Mode"] != "real" || r.body["NowUtc"] != "2029-02-03T05:05:16Z" {
		t.Fatalf("replica 0 after release: %v", r.body)
	}
}
