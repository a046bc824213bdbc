package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// TestPageQueryHasOneTightRange checks that a page query gives SQLite a
// single range of created_utc, bounded by the tightest of the interval ends
// and the cursor: with several upper bounds SQLite walks from one of them,
// and from the interval's end a page deep in history would read every newer
// row of the interval first.
func TestPageQueryHasOneTightRange(t *testing.T) {
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	iv := func(start, end int64) *mews.Interval { // in Unix microseconds
		return &mews.Interval{Start: time.UnixMicro(start), End: time.UnixMicro(end)}
	}
	for _, c := range []struct {
		name             string
		created, updated *mews.Interval
		after            *position
		lo, hi           int64 // -1: no bound
		tieBreak         bool
	}{
		{"cursor inside the interval", iv(1000, 5000), nil, &position{created: 3000, seq: 7}, 1000, 3000, true},
		{"cursor after the interval", iv(1000, 5000), nil, &position{created: 9000, seq: 7}, 1000, 5000, false},
		{"cursor at the end of the interval", iv(1000, 5000), nil, &position{created: 5000, seq: 7}, 1000, 5000, true},
		{"updated bound tighter than the cursor", nil, iv(100, 2000), &position{created: 3000, seq: 7}, -1, 2000, false},
		{"cursor tighter than the updated bound", iv(0, 4000), iv(100, 5000), &position{created: 3000, seq: 7}, 0, 3000, true},
		{"no cursor", iv(1000, 5000), iv(100, 2000), nil, 1000, 2000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, args := threadsPageQuery(mews.ThreadFilter{Scope: scope, Created: c.created, Updated: c.updated, Page: mews.Page{Count: 10}}, c.after)
			if n := strings.Count(q, "created_utc <="); n != 1 && c.hi >= 0 {
				t.Fatalf("%d upper bounds on created_utc in\n%s", n, q)
			}
			if strings.Contains(q, "(created_utc, seq)") || strings.Contains(q, "created_utc BETWEEN") {
				t.Errorf("a second range on created_utc in\n%s", q)
			}
			if c.lo >= 0 && !slices.Contains(args, any(c.lo)) {
				t.Errorf("lower bound %d not among %v", c.lo, args)
			}
			if !slices.Contains(args, any(c.hi)) {
				t.Errorf("upper bound %d not among %v", c.hi, args)
			}
			if got := strings.Contains(q, "seq < ?"); got != c.tieBreak {
				t.Errorf("tie-break at the cursor's instant: %v, want %v\n%s", got, c.tieBreak, q)
			}
		})
	}
	q, _ := messagesPageQuery([]uuid.UUID{uuid.New()}, iv(1000, 5000), &position{created: 3000, seq: 7}, 10)
	if strings.Count(q, "created_utc <=") != 1 || strings.Contains(q, "BETWEEN") {
		t.Errorf("messages page query has more than one range:\n%s", q)
	}
}
