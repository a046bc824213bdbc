package storetest

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

func threadsAddThenGetByIDs(e *env) {
	plain := e.thread(e.a, e.e1, 0)
	resolved := newThread(e.a, e.e1, 10)
	resolved.IsResolved = true
	resolved.UpdatedUTC = at(20) // the store keeps what it is given
	e.addThread(resolved)
	odd := newThread(e.a, e.e1, 5)
	odd.OriginalSender = "Zoë \"Z\" O'Brien\nRoom 12"
	odd.Subject = "Přílet 🛬 — 到着 % _ \\"
	e.addThread(odd)

	got := e.threads(mews.ThreadFilter{
		Scope: e.scope(e.e1),
		IDs:   []uuid.UUID{plain.ID, resolved.ID, odd.ID},
		Page:  mews.Page{Count: 10},
	})
	checkThreads(e.t, "all by IDs", got, []mews.Thread{resolved, odd, plain})
}

func threadsNewestFirstTiesByInsertion(e *env) {
	var ts []mews.Thread
	for _, sec := range []int{5, 3, 5, 7, 3, 5} {
		ts = append(ts, e.thread(e.a, e.e1, sec))
	}
	got := e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Created: all(), Page: mews.Page{Count: 10}})
	checkThreads(e.t, "newest first", got, []mews.Thread{ts[3], ts[5], ts[2], ts[0], ts[4], ts[1]})
}

func threadsPagesVisitEachOnce(e *env) {
	var ts []mews.Thread
	for i := range 23 {
		ts = append(ts, e.thread(e.a, e.e1, (i*7)%5)) // many in the same second
	}
	want := newestFirst(ts, threadCreated)
	f := mews.ThreadFilter{Scope: e.scope(e.e1), Created: all()}
	for _, count := range []int{1, 2, 3, 5, 22, 23, 24, 1000} {
		got := e.walkThreads(f, count, nil)
		checkThreads(e.t, fmt.Sprintf("walk with count %d", count), got, want)
	}
}

func threadsPagesStableWhileAdding(e *env) {
	var ts []mews.Thread
	for i := range 10 {
		ts = append(ts, e.thread(e.a, e.e1, i/3))
	}
	want := newestFirst(ts, threadCreated)
	newest := 3
	f := mews.ThreadFilter{Scope: e.scope(e.e1), Created: all()}
	got := e.walkThreads(f, 3, func() {
		// As the server adds them: now, never earlier than the newest.
		e.thread(e.a, e.e1, newest)
		newest++
		e.thread(e.a, e.e1, newest)
	})
	checkThreads(e.t, "walk while adding", got, want)
}

// threadsPagesRandom walks, with random page sizes, random sets of threads
// spread over two enterprises among threads that the scope excludes; with
// adding, new threads arrive between the pages.
func threadsPagesRandom(e *env, adding bool) {
	r := newRand(e.t)
	for round := range 20 {
		// A new integration per round: the rounds do not see each other.
		e.a = uuid.New()
		portfolio := r.Intn(2) == 0
		scope := e.scope(e.e1)
		if portfolio {
			scope = e.scope(e.e1, e.e2)
		}
		var in []mews.Thread
		newest := 0
		for range r.Intn(60) {
			sec := r.Intn(20)
			newest = max(newest, sec)
			switch r.Intn(5) {
			case 0: // someone else's
				e.thread(e.b, e.e1, sec)
			case 1: // in an enterprise outside the scope
				e.thread(e.a, e.e3, sec)
			case 2:
				th := e.thread(e.a, e.e2, sec)
				if portfolio {
					in = append(in, th)
				}
			default:
				in = append(in, e.thread(e.a, e.e1, sec))
			}
		}
		f := mews.ThreadFilter{Scope: scope, Created: all()}
		if r.Intn(2) == 0 {
			f = mews.ThreadFilter{Scope: scope, Updated: all()}
		}
		count := 1 + r.Intn(len(in)+3)
		var between func()
		if adding {
			between = func() {
				for range r.Intn(3) {
					newest += r.Intn(2)
					e.thread(e.a, e.e1, newest)
				}
			}
		}
		got := e.walkThreads(f, count, between)
		checkThreads(e.t, fmt.Sprintf("round %d: %d threads, portfolio %t, count %d", round, len(in), portfolio, count),
			got, newestFirst(in, threadCreated))
		if e.t.Failed() {
			return
		}
	}
}

func threadsCursorUnknown(e *env) {
	e.thread(e.a, e.e1, 0)
	unknown := uuid.New()
	_, err := e.s.MessageThreadsGetAll(e.ctx, mews.ThreadFilter{
		Scope: e.scope(e.e1), Created: all(), Page: mews.Page{Cursor: &unknown, Count: 10},
	})
	wantInvalid(e.t, err, uuid.Nil)
}

func threadsCursorOfOtherIntegration(e *env) {
	e.thread(e.a, e.e1, 0)
	theirs := e.thread(e.b, e.e1, 1)
	_, err := e.s.MessageThreadsGetAll(e.ctx, mews.ThreadFilter{
		Scope: e.scope(e.e1), Created: all(), Page: mews.Page{Cursor: &theirs.ID, Count: 10},
	})
	wantInvalid(e.t, err, uuid.Nil)
}

func threadsCursorOutsideEnterpriseScope(e *env) {
	first := e.thread(e.a, e.e1, 0)
	elsewhere := e.thread(e.a, e.e2, 1)
	_, err := e.s.MessageThreadsGetAll(e.ctx, mews.ThreadFilter{
		Scope: e.scope(e.e1), Created: all(), Page: mews.Page{Cursor: &elsewhere.ID, Count: 10},
	})
	wantInvalid(e.t, err, uuid.Nil)

	got := e.threads(mews.ThreadFilter{
		Scope: e.scope(e.e1, e.e2), Created: all(), Page: mews.Page{Cursor: &elsewhere.ID, Count: 10},
	})
	checkThreads(e.t, "same cursor in the portfolio scope", got, []mews.Thread{first})
}

// A cursor names a position in the scope's order; it need not match the
// other filters.
func threadsCursorFilteredOutIsValid(e *env) {
	a := e.thread(e.a, e.e1, 0)
	b := e.thread(e.a, e.e1, 1)
	c := e.thread(e.a, e.e1, 2)
	d := e.thread(e.a, e.e1, 3)
	got := e.threads(mews.ThreadFilter{
		Scope: e.scope(e.e1), IDs: []uuid.UUID{a.ID, b.ID, d.ID}, Page: mews.Page{Cursor: &c.ID, Count: 10},
	})
	checkThreads(e.t, "older than a filtered-out cursor", got, []mews.Thread{b, a})
}

func threadsFilterIDs(e *env) {
	a := e.thread(e.a, e.e1, 0)
	e.thread(e.a, e.e1, 1)
	c := e.thread(e.a, e.e1, 2)
	e.thread(e.a, e.e1, 3)
	got := e.threads(mews.ThreadFilter{
		Scope: e.scope(e.e1), IDs: []uuid.UUID{a.ID, uuid.New(), c.ID}, Page: mews.Page{Count: 10},
	})
	checkThreads(e.t, "by IDs", got, []mews.Thread{c, a})
}

func threadsFilterCreatedInclusive(e *env) {
	var ts []mews.Thread
	for _, sec := range []int{9, 10, 15, 20, 21} {
		ts = append(ts, e.thread(e.a, e.e1, sec))
	}
	got := e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Created: span(10, 20), Page: mews.Page{Count: 10}})
	checkThreads(e.t, "created in [10, 20]", got, []mews.Thread{ts[3], ts[2], ts[1]})
}

func threadsFilterUpdatedInclusive(e *env) {
	add := func(created, updated int) mews.Thread {
		th := newThread(e.a, e.e1, created)
		th.UpdatedUTC = at(updated)
		return e.addThread(th)
	}
	add(0, 9)
	b := add(0, 10)
	c := add(5, 15)
	d := add(12, 20)
	add(15, 21)
	add(21, 21)
	g := add(10, 10)
	got := e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Updated: span(10, 20), Page: mews.Page{Count: 10}})
	checkThreads(e.t, "updated in [10, 20]", got, []mews.Thread{d, g, c, b})
}

func threadsFilterUpdatedByMessages(e *env) {
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 50, mews.SenderApplication))
	th.UpdatedUTC = at(50)

	got := e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Updated: span(40, 60), Page: mews.Page{Count: 10}})
	checkThreads(e.t, "updated in [40, 60]", got, []mews.Thread{th})
	got = e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Updated: span(0, 10), Page: mews.Page{Count: 10}})
	checkThreads(e.t, "updated in [0, 10]", got, nil)
}

func threadsFiltersCombineWithAnd(e *env) {
	add := func(created, updated int) mews.Thread {
		th := newThread(e.a, e.e1, created)
		th.UpdatedUTC = at(updated)
		return e.addThread(th)
	}
	match := add(0, 5)
	lateUpdate := add(0, 30)
	lateCreation := add(15, 15)
	add(5, 5) // matches Created and Updated, but not asked for
	got := e.threads(mews.ThreadFilter{
		Scope:   e.scope(e.e1),
		IDs:     []uuid.UUID{match.ID, lateUpdate.ID, lateCreation.ID},
		Created: span(0, 10),
		Updated: span(5, 20),
		Page:    mews.Page{Count: 10},
	})
	checkThreads(e.t, "IDs and Created and Updated", got, []mews.Thread{match})
}

func threadsIntegrationIsolation(e *env) {
	ours := e.thread(e.a, e.e1, 0)
	theirs := e.thread(e.b, e.e1, 1)
	both := []uuid.UUID{ours.ID, theirs.ID}

	a, b := e.scope(e.e1), mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}}
	checkThreads(e.t, "A by IDs", e.threads(mews.ThreadFilter{Scope: a, IDs: both, Page: mews.Page{Count: 10}}),
		[]mews.Thread{ours})
	checkThreads(e.t, "B by IDs", e.threads(mews.ThreadFilter{Scope: b, IDs: both, Page: mews.Page{Count: 10}}),
		[]mews.Thread{theirs})
	checkThreads(e.t, "A by Created", e.threads(mews.ThreadFilter{Scope: a, Created: all(), Page: mews.Page{Count: 10}}),
		[]mews.Thread{ours})
	checkThreads(e.t, "B by Updated", e.threads(mews.ThreadFilter{Scope: b, Updated: all(), Page: mews.Page{Count: 10}}),
		[]mews.Thread{theirs})
}

func threadsEnterpriseScope(e *env) {
	one := e.thread(e.a, e.e1, 0)
	two := e.thread(e.a, e.e2, 1)
	e.thread(e.a, e.e3, 2)
	ids := []uuid.UUID{one.ID, two.ID}

	for _, c := range []struct {
		name  string
		scope mews.Scope
		want  []mews.Thread
	}{
		{"E1", e.scope(e.e1), []mews.Thread{one}},
		{"E2", e.scope(e.e2), []mews.Thread{two}},
		{"E1 and E2", e.scope(e.e1, e.e2), []mews.Thread{two, one}},
		{"E2 and E1", e.scope(e.e2, e.e1), []mews.Thread{two, one}},
	} {
		checkThreads(e.t, c.name+" by IDs",
			e.threads(mews.ThreadFilter{Scope: c.scope, IDs: ids, Page: mews.Page{Count: 10}}), c.want)
		checkThreads(e.t, c.name+" by Created",
			e.threads(mews.ThreadFilter{Scope: c.scope, Created: all(), Page: mews.Page{Count: 10}}), c.want)
	}
}
