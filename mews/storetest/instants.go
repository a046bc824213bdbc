package storetest

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// The tests of instants finer than a second: stores keep them to
// mews.Resolution, order pages by them, and select an interval's instants
// exactly, whatever the precision of its bounds.

func instantTests() []test {
	return []test{
		{"InstantsKeptToTheMicrosecond", instantsKeptToTheMicrosecond},
		{"InstantsThreadsNewestFirst", instantsThreadsNewestFirst},
		{"InstantsMessagesNewestFirst", instantsMessagesNewestFirst},
		{"InstantsIntervalBoundsExact", instantsIntervalBoundsExact},
		{"InstantsIntervalsRandom", instantsIntervalsRandom},
	}
}

// atMicro returns the instant us microseconds after the base time.
func atMicro(us int64) time.Time { return at(0).Add(time.Duration(us) * time.Microsecond) }

func instantsKeptToTheMicrosecond(e *env) {
	cet := time.FixedZone("CET", 3600)
	th := newThread(e.a, e.e1, 0)
	th.CreatedUTC = time.Date(2024, 3, 1, 13, 0, 5, 123_456_789, cet)
	th.UpdatedUTC = th.CreatedUTC
	e.addThread(th)
	// Stored to the microsecond, rounded down, and read back in UTC.
	th.CreatedUTC = time.Date(2024, 3, 1, 12, 0, 5, 123_456_000, time.UTC)
	th.UpdatedUTC = th.CreatedUTC
	checkThreads(e.t, "thread as stored", []mews.Thread{e.threadByID(e.scope(e.e1), th.ID)}, []mews.Thread{th})

	early := newMessage(th.ID, 0, mews.SenderApplication)
	early.CreatedUTC = time.Date(2024, 3, 1, 13, 0, 6, 300_000_999, cet)
	late := newMessage(th.ID, 0, mews.SenderEnterprise)
	late.CreatedUTC = time.Date(2024, 3, 1, 12, 0, 6, 700_001_500, time.UTC)
	e.addMessages(e.scope(e.e1), late, early) // the newest first: UpdatedUTC is the newest, not the last
	late.CreatedUTC = time.Date(2024, 3, 1, 12, 0, 6, 700_001_000, time.UTC)
	early.CreatedUTC = time.Date(2024, 3, 1, 12, 0, 6, 300_000_000, time.UTC)
	got := e.messages(mews.MessageFilter{Scope: e.scope(e.e1), ThreadIDs: []uuid.UUID{th.ID}, Page: mews.Page{Count: 10}})
	checkMessages(e.t, "messages as stored", got, []mews.Message{late, early})
	th.UpdatedUTC = late.CreatedUTC
	checkThreads(e.t, "thread updated by its newest message", []mews.Thread{e.threadByID(e.scope(e.e1), th.ID)}, []mews.Thread{th})
}

// instantOffsets are the creation instants of the ordering tests, in
// microseconds after the base time: several in one second, ties at one
// microsecond, neighbours one microsecond apart.
var instantOffsets = []int64{500_000, 1, 500_000, 999_999, 0, 1, 1_000_000, 499_999, 500_001, 500_000}

func instantsThreadsNewestFirst(e *env) {
	var ts []mews.Thread
	for _, us := range instantOffsets {
		th := newThread(e.a, e.e1, 0)
		th.CreatedUTC, th.UpdatedUTC = atMicro(us), atMicro(us)
		ts = append(ts, e.addThread(th))
	}
	want := newestFirst(ts, threadCreated)
	for _, f := range []mews.ThreadFilter{
		{Scope: e.scope(e.e1), Created: all()},
		{Scope: e.scope(e.e1), Updated: all()},
	} {
		for _, count := range []int{1, 2, 3, 4, 1000} {
			checkThreads(e.t, fmt.Sprintf("walk with count %d", count), e.walkThreads(f, count, nil), want)
		}
	}
}

func instantsMessagesNewestFirst(e *env) {
	th := e.thread(e.a, e.e1, -10)
	var ms []mews.Message
	for _, us := range instantOffsets {
		m := newMessage(th.ID, 0, mews.SenderApplication)
		m.CreatedUTC = atMicro(us)
		ms = append(ms, e.addMessages(e.scope(e.e1), m)...)
	}
	want := newestFirst(ms, messageCreated)
	f := mews.MessageFilter{Scope: e.scope(e.e1), ThreadIDs: []uuid.UUID{th.ID}, Created: all()}
	for _, count := range []int{1, 2, 3, 4, 1000} {
		checkMessages(e.t, fmt.Sprintf("walk with count %d", count), e.walkMessages(f, count, nil), want)
	}
}

// inInterval is the rule a store follows: an instant is selected when it is
// within the closed interval, compared to the nanosecond.
func inInterval(t time.Time, iv mews.Interval) bool { return !t.Before(iv.Start) && !t.After(iv.End) }

// filtered returns those of items whose instant is in iv.
func filtered[T any](items []T, instant func(T) time.Time, iv mews.Interval) []T {
	var out []T
	for _, it := range items {
		if inInterval(instant(it), iv) {
			out = append(out, it)
		}
	}
	return out
}

func threadUpdated(t mews.Thread) time.Time { return t.UpdatedUTC }

func instantsIntervalBoundsExact(e *env) {
	const ns = time.Nanosecond
	th := e.thread(e.a, e.e2, -10) // the messages' thread, outside the threads' scope E1
	var ts []mews.Thread
	var ms []mews.Message
	for _, us := range instantOffsets {
		t := newThread(e.a, e.e1, -5)
		t.UpdatedUTC = atMicro(us)
		ts = append(ts, e.addThread(t))
		m := newMessage(th.ID, 0, mews.SenderApplication)
		m.CreatedUTC = atMicro(us)
		ms = append(ms, e.addMessages(e.scope(e.e2), m)...)
	}
	ivs := []mews.Interval{
		{Start: atMicro(500_000), End: atMicro(500_000)},                       // one instant, three items
		{Start: atMicro(500_000).Add(ns), End: atMicro(999_999)},               // just after an instant
		{Start: atMicro(1), End: atMicro(500_000).Add(-ns)},                    // just before one
		{Start: atMicro(499_999).Add(999 * ns), End: atMicro(500_001).Add(ns)}, // between microseconds
		{Start: atMicro(0).Add(ns), End: atMicro(1).Add(-ns)},                  // no microsecond inside
		{Start: atMicro(-1), End: atMicro(1_000_001)},                          // all
		{Start: atMicro(999_999).Add(500 * ns), End: atMicro(1_000_000)},
	}
	for _, iv := range ivs {
		name := fmt.Sprintf("[%s, %s]", iv.Start.Format(time.RFC3339Nano), iv.End.Format(time.RFC3339Nano))
		got := e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Updated: &iv, Page: mews.Page{Count: 1000}})
		checkThreads(e.t, "threads updated in "+name, got, newestFirst(filtered(ts, threadUpdated, iv), threadCreated))
		created := iv
		created.Start, created.End = created.Start.Add(-5*time.Second), created.End.Add(-5*time.Second)
		got = e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Created: &created, Updated: all(), Page: mews.Page{Count: 1000}})
		var none []mews.Thread // all were created at -5 s, whole
		if inInterval(at(-5), created) {
			none = newestFirst(ts, threadCreated)
		}
		checkThreads(e.t, "threads created in "+name+" - 5s", got, none)
		gotMs := e.messages(mews.MessageFilter{Scope: e.scope(e.e2), ThreadIDs: []uuid.UUID{th.ID}, Created: &iv, Page: mews.Page{Count: 1000}})
		checkMessages(e.t, "messages created in "+name, gotMs, newestFirst(filtered(ms, messageCreated, iv), messageCreated))
	}
}

// instantsIntervalsRandom stores items at random microseconds of a few
// seconds and walks random intervals, with bounds to the nanosecond, in pages
// of random sizes: each walk holds exactly the items in the interval, newest
// first.
func instantsIntervalsRandom(e *env) {
	r := newRand(e.t)
	const window = 3_000_000 // microseconds
	randInstant := func() time.Time {
		us := r.Int63n(window)
		if r.Intn(4) == 0 {
			us -= us % 1_000_000 // a whole second
		}
		return atMicro(us)
	}
	// A bound near the stored instants: on one, a nanosecond off, or anywhere.
	randBound := func(items []time.Time) time.Time {
		var b time.Time
		if len(items) > 0 && r.Intn(2) == 0 {
			b = items[r.Intn(len(items))]
		} else {
			b = atMicro(r.Int63n(window)).Add(time.Duration(r.Intn(1000)) * time.Nanosecond)
		}
		return b.Add(time.Duration(r.Intn(3)-1) * time.Nanosecond)
	}
	for round := range 10 {
		e.a = uuid.New()               // a new integration per round
		th := e.thread(e.a, e.e2, -10) // the messages' thread, outside the threads' scope E1
		var ts []mews.Thread
		var ms []mews.Message
		var instants []time.Time
		for range r.Intn(40) {
			t := newThread(e.a, e.e1, 0)
			t.CreatedUTC = randInstant()
			t.UpdatedUTC = t.CreatedUTC.Add(time.Duration(r.Int63n(window)) * time.Microsecond * time.Duration(r.Intn(2)))
			ts = append(ts, e.addThread(t))
			m := newMessage(th.ID, 0, mews.SenderApplication)
			m.CreatedUTC = randInstant()
			ms = append(ms, e.addMessages(e.scope(e.e2), m)...)
			instants = append(instants, t.CreatedUTC, t.UpdatedUTC, m.CreatedUTC)
		}
		for range 5 {
			iv := mews.Interval{Start: randBound(instants), End: randBound(instants)}
			if iv.End.Before(iv.Start) {
				iv.Start, iv.End = iv.End, iv.Start
			}
			count := 1 + r.Intn(len(ts)+2)
			what := fmt.Sprintf("round %d, [%s, %s], count %d", round,
				iv.Start.Format(time.RFC3339Nano), iv.End.Format(time.RFC3339Nano), count)
			checkThreads(e.t, "threads created in "+what,
				e.walkThreads(mews.ThreadFilter{Scope: e.scope(e.e1), Created: &iv}, count, nil),
				newestFirst(filtered(ts, threadCreated, iv), threadCreated))
			checkThreads(e.t, "threads updated in "+what,
				e.walkThreads(mews.ThreadFilter{Scope: e.scope(e.e1), Updated: &iv}, count, nil),
				newestFirst(filtered(ts, threadUpdated, iv), threadCreated))
			checkMessages(e.t, "messages created in "+what,
				e.walkMessages(mews.MessageFilter{Scope: e.scope(e.e2), ThreadIDs: []uuid.UUID{th.ID}, Created: &iv}, count, nil),
				newestFirst(filtered(ms, messageCreated, iv), messageCreated))
			if e.t.Failed() {
				return
			}
		}
	}
}
