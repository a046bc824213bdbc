package postgres

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/mews"
)

// Admit is FaultRuleTake and ClockLoad in one round trip: the same rule
// strikes, and the clock's state comes with it.
func TestAdmitReadsClockAndTakesRule(t *testing.T) {
	db := openFresh(t)
	ctx := t.Context()
	token := mews.TokenDigest(sha256.Sum256([]byte("t")))
	st, _, ok, err := db.Admit(ctx, "messages/add", token)
	if err != nil || ok || st != (clock.State{}) {
		t.Fatalf("empty database: %+v %v %v", st, ok, err)
	}
	frozen := clock.State{Frozen: true, At: time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC), Version: 1}
	if ok, err := db.ClockSwap(ctx, 0, frozen); err != nil || !ok {
		t.Fatal(ok, err)
	}
	rule, err := db.FaultRuleAdd(ctx, mews.FaultRule{Operation: "messages/add", Count: 1, Status: 503, CreatedUTC: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	st, r, ok, err := db.Admit(ctx, "messages/add", token)
	if err != nil || !ok || r.ID != rule.ID || r.Remaining != 0 || r.Status != 503 || st != frozen {
		t.Fatalf("Admit: %+v %+v %v %v", st, r, ok, err)
	}
	if _, _, ok, err := db.Admit(ctx, "messages/add", token); err != nil || ok {
		t.Fatalf("a used-up rule struck again: %v %v", ok, err)
	}
}
