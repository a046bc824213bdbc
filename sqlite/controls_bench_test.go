package sqlite

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/mewsref/mewsref/mews"
)

// What the fault rules and the clock cost every request (docs/BENCHMARKS.md):
// FaultRuleTake with no rule with strikes left (an atomic load) and with a
// rule that never runs out for another operation (the UPDATE through the
// writer), and ClockLoad (the cached state).
func BenchmarkControls(b *testing.B) {
	token := mews.TokenDigest(sha256.Sum256([]byte("bench")))
	b.Run("FaultRuleTake/NoRule", func(b *testing.B) {
		db := openClosedB(b)
		for b.Loop() {
			if _, ok, err := db.FaultRuleTake(b.Context(), "messages/add", token); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("FaultRuleTake/RuleOfAnotherOperation", func(b *testing.B) {
		db := openClosedB(b)
		if _, err := db.FaultRuleAdd(b.Context(), mews.FaultRule{Operation: "messages/getAll", Count: 1, Status: 500, CreatedUTC: time.Now()}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, ok, err := db.FaultRuleTake(b.Context(), "messages/add", token); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("ClockLoad", func(b *testing.B) {
		db := openClosedB(b)
		for b.Loop() {
			if _, err := db.ClockLoad(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
