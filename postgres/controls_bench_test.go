package postgres

import (
	"crypto/sha256"
	"testing"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/mews"
)

// What the fault rules and the clock cost every request on PostgreSQL
// (docs/BENCHMARKS.md): FaultRuleTake with no rule (one indexed query) and
// ClockLoad (one primary-key read), each a round trip to the database, and
// Admit, both in one round trip: what the server sends per request.
func BenchmarkControls(b *testing.B) {
	db, err := Open(b.Context(), pgtest.DSN(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	token := mews.TokenDigest(sha256.Sum256([]byte("bench")))
	b.Run("FaultRuleTake/NoRule", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := db.FaultRuleTake(b.Context(), "messages/add", token); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("Admit/NoRule", func(b *testing.B) {
		for b.Loop() {
			if _, _, ok, err := db.Admit(b.Context(), "messages/add", token); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("ClockLoad", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ClockLoad(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
