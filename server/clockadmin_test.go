package server_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// The clock through the admin API: set freezes it, advance moves it, a set
// to the past is a 400 that changes nothing, release lets it run on from
// its instant, and new items take their instants from it.
func TestClockAdminOperations(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	r := e.admin("clock/get", obj{})
	e.wantStatus(r, 200)
	if r.body["Mode"] != "real" || r.body["NowUtc"] != "2022-03-07T16:09:45Z" {
		t.Fatalf("clock/get %v: want the real clock (the env's wall clock)", r.body)
	}
	r = e.admin("clock/set", obj{"NowUtc": "2027-01-15T09:00:00Z"})
	e.wantStatus(r, 200)
	if r.body["Mode"] != "frozen" || r.body["NowUtc"] != "2027-01-15T09:00:00Z" {
		t.Fatalf("clock/set %v", r.body)
	}
	e.clock.Advance(time.Hour) // the wall clock moves; the frozen clock does not
	th := e.addThread(demoClient, demoGross, "frozen")
	if th["CreatedUtc"] != "2027-01-15T09:00:00Z" {
		t.Fatalf("CreatedUtc %v", th["CreatedUtc"])
	}
	r = e.admin("clock/advance", obj{"Seconds": 259200})
	e.wantStatus(r, 200)
	if r.body["NowUtc"] != "2027-01-18T09:00:00Z" || r.body["Mode"] != "frozen" {
		t.Fatalf("clock/advance %v", r.body)
	}
	r = e.admin("clock/set", obj{"NowUtc": "2027-01-18T08:59:59Z"})
	e.wantStatus(r, 400)
	if r = e.admin("clock/get", obj{}); r.body["NowUtc"] != "2027-01-18T09:00:00Z" {
		t.Fatalf("a refused set changed the clock: %v", r.body)
	}
	e.wantStatus(e.admin("clock/advance", obj{"Seconds": -1}), 400)
	e.wantStatus(e.admin("clock/advance", obj{}), 400)
	e.wantStatus(e.admin("clock/set", obj{"NowUtc": "tomorrow"}), 400)
	r = e.admin("clock/release", obj{})
	e.wantStatus(r, 200)
	if r.body["Mode"] != "real" || r.body["NowUtc"] != "2027-01-18T09:00:00Z" {
		t.Fatalf("clock/release %v: want running from the frozen instant", r.body)
	}
	e.clock.Advance(90 * time.Second)
	if r = e.admin("clock/get", obj{}); r.body["NowUtc"] != "2027-01-18T09:01:30Z" {
		t.Fatalf("released clock reads %v, want 90 s after its instant", r.body["NowUtc"])
	}
	// set with no instant freezes it where it is.
	r = e.admin("clock/set", obj{})
	e.wantStatus(r, 200)
	e.clock.Advance(time.Minute)
	if r = e.admin("clock/get", obj{}); r.body["Mode"] != "frozen" || r.body["NowUtc"] != "2027-01-18T09:01:30Z" {
		t.Fatalf("clock/set {} then clock/get: %v", r.body)
	}
}

// A server restarted on the same database keeps the clock where it was,
// unless it is given a clock (-clock) of its own.
func TestClockStateSurvivesRestart(t *testing.T) {
	path := t.TempDir() + "/mews.db"
	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	h, closeServer, err := server.New(server.Config{Store: first, AdminToken: adminToken,
		Clock: clock.Frozen(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ts: apitest.Server(t, h)}
	e.wantStatus(e.admin("clock/advance", obj{"Seconds": 60}), 200)
	e.ts.Close()
	if err := errors.Join(closeServer(), first.Close()); err != nil {
		t.Fatal(err)
	}
	db := openSQLite(t, path)
	e = newEnv(t, server.Config{Store: db, AdminToken: adminToken})
	if r := e.admin("clock/get", obj{}); r.body["Mode"] != "frozen" || r.body["NowUtc"] != "2030-01-01T00:01:00Z" {
		t.Fatalf("after a restart: %v", r.body)
	}
}

// A clock between two seconds: responses show its instant in whole
// seconds (validated against the spec), and a set to that shown second,
// a fraction in the past, is refused; set without NowUtc freezes it
// exactly where it is.
func TestClockAdminBetweenSeconds(t *testing.T) {
	wall := time.Date(2027, 1, 15, 9, 0, 0, 500_000_000, time.UTC)
	e := newEnv(t, server.Config{AdminToken: adminToken, Now: func() time.Time { return wall }})
	r := e.admin("clock/get", obj{})
	e.wantStatus(r, 200)
	if r.body["NowUtc"] != "2027-01-15T09:00:00Z" {
		t.Fatalf("clock/get %v", r.body)
	}
	e.wantStatus(e.admin("clock/set", obj{"NowUtc": "2027-01-15T09:00:00Z"}), 400)
	e.wantStatus(e.admin("clock/set", obj{"NowUtc": "2027-01-15T09:00:00.5Z"}), 200)
	e.wantStatus(e.admin("clock/set", obj{}), 200)
	th := e.addThread(demoClient, demoGross, "half past")
	if th["CreatedUtc"] != "2027-01-15T09:00:00Z" {
		t.Fatalf("CreatedUtc %v", th["CreatedUtc"])
	}
}
