package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// TestPageQueryHasOneTightRange checks that each statement of a page gives
// SQLite a single range of created_utc, bounded by the tightest of the
// interval ends and the cursor: with several upper bounds SQLite walks from
// one of them, and from the interval's end a page deep in history would
// read every newer row of the interval first. After a cursor the page is
// the items of the cursor's instant with a smaller seq, then the range
// before that instant (created.parts), with no tie-break left to check on
// each row.
func TestPageQueryHasOneTightRange(t *testing.T) {
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	iv := func(start, end int64) *mews.Interval { // in Unix microseconds
		return &mews.Interval{Start: time.UnixMicro(start), End: time.UnixMicro(end)}
	}
	const none = -1
	for _, c := range []struct {
		name             string
		created, updated *mews.Interval
		after            *position
		tieAt            int64 // the instant of the tie-break statement, or none
		lo, hi           int64 // of the range statement, none: no bound
		noRange          bool  // no range statement: the cursor is at or before the start
	}{
		{"cursor inside the interval", iv(1000, 5000), nil, &position{created: 3000, seq: 7}, 3000, 1000, 2999, false},
		{"cursor after the interval", iv(1000, 5000), nil, &position{created: 9000, seq: 7}, none, 1000, 5000, false},
		{"cursor at the end of the interval", iv(1000, 5000), nil, &position{created: 5000, seq: 7}, 5000, 1000, 4999, false},
		{"cursor at the start of the interval", iv(1000, 5000), nil, &position{created: 1000, seq: 7}, 1000, 0, 0, true},
		{"cursor before the interval", iv(1000, 5000), nil, &position{created: 500, seq: 7}, none, 0, 0, true},
		{"updated bound tighter than the cursor", nil, iv(100, 2000), &position{created: 3000, seq: 7}, none, none, 2000, false},
		{"cursor tighter than the updated bound", iv(0, 4000), iv(100, 5000), &position{created: 3000, seq: 7}, 3000, 0, 2999, false},
		{"no cursor", iv(1000, 5000), iv(100, 2000), nil, none, 1000, 2000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			parts := threadsPageQuery(mews.ThreadFilter{Scope: scope, Created: c.created, Updated: c.updated, Page: mews.Page{Count: 10}}, c.after)
			want := 0
			if c.tieAt != none {
				want++
			}
			if !c.noRange {
				want++
			}
			if len(parts) != want {
				t.Fatalf("%d statements, want %d: %v", len(parts), want, parts)
			}
			for _, p := range parts {
				if strings.Contains(p.q, " OR ") || strings.Contains(p.q, "(created_utc, seq)") || strings.Contains(p.q, "created_utc BETWEEN") {
					t.Errorf("a condition on each row or a second range in\n%s", p.q)
				}
				if n := strings.Count(p.q, "created_utc <=") + strings.Count(p.q, "created_utc ="); n > 1 {
					t.Errorf("%d upper bounds on created_utc in\n%s", n, p.q)
				}
			}
			if c.tieAt != none {
				tie := parts[0]
				if !strings.Contains(tie.q, "created_utc = ?") || !strings.Contains(tie.q, "seq < ?") ||
					!slices.Contains(tie.args, any(c.tieAt)) || !slices.Contains(tie.args, any(c.after.seq)) {
					t.Errorf("tie-break statement at %d, seq < %d:\n%s %v", c.tieAt, c.after.seq, tie.q, tie.args)
				}
				parts = parts[1:]
			}
			if c.noRange {
				return
			}
			r := parts[0]
			if strings.Contains(r.q, "seq < ?") {
				t.Errorf("a tie-break in the range statement:\n%s", r.q)
			}
			if got := strings.Contains(r.q, "created_utc >= ?"); got != (c.lo != none) || c.lo != none && !slices.Contains(r.args, any(c.lo)) {
				t.Errorf("lower bound %d: %v among %v\n%s", c.lo, got, r.args, r.q)
			}
			if !strings.Contains(r.q, "created_utc <= ?") || !slices.Contains(r.args, any(c.hi)) {
				t.Errorf("upper bound %d not among %v\n%s", c.hi, r.args, r.q)
			}
		})
	}
	for _, p := range messagesPageQuery([]uuid.UUID{uuid.New()}, iv(1000, 5000), &position{created: 3000, seq: 7}) {
		if strings.Count(p.q, "created_utc <=")+strings.Count(p.q, "created_utc =") != 1 || strings.Contains(p.q, "BETWEEN") || strings.Contains(p.q, " OR ") {
			t.Errorf("messages page statement has more than one range:\n%s", p.q)
		}
	}
}

// TestStatementIsBuiltOncePerShape: the statements of the page path are
// the text their head, conditions and tail make, and a second page of the
// same shape gets the very string the first one built, not a new join.
func TestStatementIsBuiltOncePerShape(t *testing.T) {
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	two := mews.Scope{IntegrationID: scope.IntegrationID, EnterpriseIDs: []uuid.UUID{uuid.New(), uuid.New()}}
	day := &mews.Interval{Start: time.Now().Add(-24 * time.Hour), End: time.Now()}
	for _, f := range []mews.ThreadFilter{
		{Scope: scope},
		{Scope: two, Created: day},
		{Scope: scope, Updated: day, IDs: []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}},
	} {
		for _, after := range []*position{nil, {created: day.End.UnixMicro() - 5, seq: 7}} {
			first, again := threadsPageQuery(f, after), threadsPageQuery(f, after)
			for i, p := range first {
				if !strings.HasSuffix(p.q, limitParam) {
					t.Errorf("%q does not end in %q", p.q, limitParam)
				}
				if unsafe.StringData(p.q) != unsafe.StringData(again[i].q) {
					t.Errorf("%q built again for a page of the same shape", p.q)
				}
			}
		}
	}
	// The text is the one the conditions make, whatever was kept before.
	var w where
	w.add("thread_id = ?", 1)
	w.add("created_utc = ?", 2)
	if got, want := statement("SELECT id FROM messages", &w, pageOrder), "SELECT id FROM messages WHERE thread_id = ? AND created_utc = ? ORDER BY created_utc DESC, seq DESC LIMIT ?"; got != want {
		t.Errorf("statement: %q, want %q", got, want)
	}
	w.add("seq < ?", 3)
	if got := statement("SELECT id FROM messages", &w, pageOrder); !strings.Contains(got, "AND seq < ? ORDER") {
		t.Errorf("statement with one condition more: %q", got)
	}
	// More conditions than a shape holds: built, right, not kept.
	var many where
	for i := range 9 {
		many.add("c"+string(rune('0'+i))+" = ?", i)
	}
	if got, want := statement("SELECT 1", &many, ""), "SELECT 1"+many.String(); got != want {
		t.Errorf("statement of 9 conditions: %q, want %q", got, want)
	}
}

// TestPageStatementWithoutLimitIsRefused: a statement of a page must end
// in "LIMIT ?", whose argument readParts binds; one that does not fails
// instead of taking its last argument for a limit.
func TestPageStatementWithoutLimitIsRefused(t *testing.T) {
	db := openClosed(t, Memory)
	_, err := readThreads(t.Context(), db.engine, 10, part{"SELECT " + threadColumns + " FROM threads WHERE is_resolved = ?", []any{0}})
	if err == nil || !strings.Contains(err.Error(), limitParam) {
		t.Fatalf("readThreads of a statement without LIMIT: %v, want an error naming %q", err, limitParam)
	}
	ts, err := readThreads(t.Context(), db.engine, 10, part{"SELECT " + threadColumns + " FROM threads WHERE is_resolved = ? " + limitParam, []any{0}})
	if err != nil || ts != nil {
		t.Fatalf("readThreads of an empty store: %v, %v", ts, err)
	}
}
