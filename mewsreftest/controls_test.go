package mewsreftest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mewsreftest"
)

func TestClockSetReleaseAndFaultsClear(t *testing.T) {
	t0 := time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	srv := mewsreftest.New(t, mewsreftest.WithClock(clock.Frozen(t0)))
	if c := srv.ClockSet(t, t0.Add(time.Hour)); c.Mode != "frozen" || !c.NowUtc.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ClockSet: %+v", c)
	}
	if c := srv.ClockRelease(t); c.Mode != "real" || c.NowUtc.Before(t0.Add(time.Hour)) {
		t.Fatalf("ClockRelease: %+v", c)
	}
	if c := srv.ClockSet(t, time.Time{}); c.Mode != "frozen" {
		t.Fatalf("ClockSet where it is: %+v", c)
	}
	// A set to the past fails the test, with the server's message.
	ft := &fakeTB{}
	srv.ClockSet(ft, t0)
	if f := ft.failed(); len(f) != 1 || !strings.Contains(f[0], "never moves backwards") {
		t.Fatalf("failures %q", f)
	}

	rule := srv.FaultsAdd(t, admin.AdminFaultRuleParameters{Operation: "messages/getAll", Status: mewsreftest.Status(500), Count: mewsreftest.Int(2)})
	if rule.Remaining != 2 || len(srv.FaultsGetAll(t)) != 1 {
		t.Fatalf("FaultsAdd: %+v", rule)
	}
	srv.FaultsClear(t)
	if rules := srv.FaultsGetAll(t); len(rules) != 0 {
		t.Fatalf("after FaultsClear: %+v", rules)
	}
	ft = &fakeTB{}
	srv.FaultsAdd(ft, admin.AdminFaultRuleParameters{Operation: "messages/getAll"})
	if f := ft.failed(); len(f) != 1 || !strings.Contains(f[0], "Status, DelayMs or both") {
		t.Fatalf("failures %q", f)
	}
}
