package storetest

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// byThreads returns the filter of the messages of threads in scope.
func byThreads(scope mews.Scope, threads ...uuid.UUID) mews.MessageFilter {
	return mews.MessageFilter{Scope: scope, ThreadIDs: threads, Page: mews.Page{Count: 1000}}
}

func messagesAddThenGetAll(e *env) {
	th := e.thread(e.a, e.e1, 0)
	odd := newMessage(th.ID, 12, mews.SenderEnterprise)
	odd.Text = "Zoë \"Z\" says:\nPřílet 🛬 — 到着 % _ \\"
	msgs := e.addMessages(e.scope(e.e1),
		newMessage(th.ID, 10, mews.SenderApplication),
		odd,
		newMessage(th.ID, 11, mews.SenderApplication),
	)
	got := e.messages(byThreads(e.scope(e.e1), th.ID))
	checkMessages(e.t, "messages of the thread", got, []mews.Message{msgs[1], msgs[2], msgs[0]})
}

func messagesSenderPreserved(e *env) {
	th := e.thread(e.a, e.e1, 0)
	for _, sender := range []mews.Sender{mews.SenderApplication, mews.SenderEnterprise} {
		m := e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, sender))[0]
		got := e.messages(mews.MessageFilter{Scope: e.scope(e.e1), ThreadIDs: []uuid.UUID{th.ID}, Page: mews.Page{Count: 1}})
		checkMessages(e.t, string(sender), got, []mews.Message{m})
	}
}

func messagesAddSetsThreadUpdatedToNewest(e *env) {
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1),
		newMessage(th.ID, 5, mews.SenderApplication),
		newMessage(th.ID, 9, mews.SenderEnterprise),
		newMessage(th.ID, 7, mews.SenderApplication),
	)
	th.UpdatedUTC = at(9)
	checkThreads(e.t, "thread after a batch", []mews.Thread{e.threadByID(e.scope(e.e1), th.ID)}, []mews.Thread{th})

	e.addMessages(e.scope(e.e1), newMessage(th.ID, 20, mews.SenderApplication))
	th.UpdatedUTC = at(20)
	checkThreads(e.t, "thread after a newer message", []mews.Thread{e.threadByID(e.scope(e.e1), th.ID)}, []mews.Thread{th})
}

func messagesAddOlderKeepsThreadUpdated(e *env) {
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 9, mews.SenderApplication))
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 3, mews.SenderEnterprise))
	th.UpdatedUTC = at(9)
	checkThreads(e.t, "thread after an older message", []mews.Thread{e.threadByID(e.scope(e.e1), th.ID)}, []mews.Thread{th})
}

// checkAllOrNothing adds a batch of a message to a thread in scope and one
// to bad, and checks that the batch is refused, naming bad, and that
// nothing changed.
func checkAllOrNothing(e *env, scope mews.Scope, bad uuid.UUID) {
	e.t.Helper()
	good := e.thread(e.a, e.e1, 0)
	err := e.s.MessagesAdd(e.ctx, scope, []mews.Message{
		newMessage(good.ID, 5, mews.SenderApplication),
		newMessage(bad, 6, mews.SenderApplication),
		newMessage(good.ID, 7, mews.SenderApplication),
	})
	wantInvalid(e.t, err, bad)
	checkMessages(e.t, "messages of the thread in scope", e.messages(byThreads(scope, good.ID)), nil)
	checkThreads(e.t, "thread in scope", []mews.Thread{e.threadByID(scope, good.ID)}, []mews.Thread{good})
}

func messagesAddAllOrNothingUnknownThread(e *env) {
	checkAllOrNothing(e, e.scope(e.e1), uuid.New())
}

func messagesAddAllOrNothingOtherIntegration(e *env) {
	theirs := e.thread(e.b, e.e1, 0)
	checkAllOrNothing(e, e.scope(e.e1), theirs.ID)
	b := mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}}
	checkMessages(e.t, "messages of the other integration's thread", e.messages(byThreads(b, theirs.ID)), nil)
}

func messagesAddAllOrNothingOutsideEnterpriseScope(e *env) {
	elsewhere := e.thread(e.a, e.e2, 0)
	checkAllOrNothing(e, e.scope(e.e1), elsewhere.ID)
	checkMessages(e.t, "messages of the thread outside the scope",
		e.messages(byThreads(e.scope(e.e2), elsewhere.ID)), nil)
}

func messagesNewestFirstTiesByInsertion(e *env) {
	th := e.thread(e.a, e.e1, 0)
	var first, second []mews.Message
	for range 5 {
		first = append(first, newMessage(th.ID, 10, mews.SenderApplication))
		second = append(second, newMessage(th.ID, 10, mews.SenderEnterprise))
	}
	e.addMessages(e.scope(e.e1), first...)
	e.addMessages(e.scope(e.e1), second...)
	want := []mews.Message{
		second[4], second[3], second[2], second[1], second[0],
		first[4], first[3], first[2], first[1], first[0],
	}
	checkMessages(e.t, "equal times", e.messages(byThreads(e.scope(e.e1), th.ID)), want)
}

func messagesFilterThreadIDs(e *env) {
	scope := e.scope(e.e1)
	t1, t2, t3 := e.thread(e.a, e.e1, 0), e.thread(e.a, e.e1, 0), e.thread(e.a, e.e1, 0)
	var want []mews.Message
	for i := range 4 {
		m := e.addMessages(scope,
			newMessage(t1.ID, i, mews.SenderApplication),
			newMessage(t2.ID, i, mews.SenderApplication),
			newMessage(t3.ID, i, mews.SenderEnterprise))
		want = append(want, m[0], m[2])
	}
	got := e.messages(byThreads(scope, t1.ID, t3.ID))
	checkMessages(e.t, "messages of two threads", got, newestFirst(want, messageCreated))
}

func messagesThreadsOutOfScopeMatchNothing(e *env) {
	ours := e.thread(e.a, e.e1, 0)
	elsewhere := e.thread(e.a, e.e2, 0)
	theirs := e.thread(e.b, e.e1, 0)
	m := e.addMessages(e.scope(e.e1), newMessage(ours.ID, 1, mews.SenderApplication))
	e.addMessages(e.scope(e.e2), newMessage(elsewhere.ID, 2, mews.SenderApplication))
	e.addMessages(mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}},
		newMessage(theirs.ID, 3, mews.SenderApplication))

	scope := e.scope(e.e1)
	checkMessages(e.t, "with one thread in scope",
		e.messages(byThreads(scope, elsewhere.ID, ours.ID, theirs.ID, uuid.New())), m)
	checkMessages(e.t, "with no thread in scope",
		e.messages(byThreads(scope, elsewhere.ID, theirs.ID, uuid.New())), nil)
}

func messagesFilterCreatedInclusive(e *env) {
	th := e.thread(e.a, e.e1, 0)
	var ms []mews.Message
	for _, sec := range []int{9, 10, 15, 20, 21} {
		ms = append(ms, newMessage(th.ID, sec, mews.SenderApplication))
	}
	e.addMessages(e.scope(e.e1), ms...)
	f := byThreads(e.scope(e.e1), th.ID)
	f.Created = span(10, 20)
	checkMessages(e.t, "created in [10, 20]", e.messages(f), []mews.Message{ms[3], ms[2], ms[1]})
}

func messagesPagesVisitEachOnce(e *env) {
	scope := e.scope(e.e1, e.e2)
	t1, t2 := e.thread(e.a, e.e1, 0), e.thread(e.a, e.e2, 0)
	var ms []mews.Message
	for i := range 23 {
		th := t1
		if i%3 == 0 {
			th = t2
		}
		ms = append(ms, e.addMessages(scope, newMessage(th.ID, (i*7)%5, mews.SenderApplication))...)
	}
	for _, c := range []struct {
		name    string
		threads []uuid.UUID
		want    []mews.Message
	}{
		{"one thread", []uuid.UUID{t1.ID}, newestFirst(filterMessages(ms, t1.ID), messageCreated)},
		{"two threads", []uuid.UUID{t1.ID, t2.ID}, newestFirst(ms, messageCreated)},
	} {
		for _, count := range []int{1, 2, 3, 5, 22, 23, 24, 1000} {
			got := e.walkMessages(byThreads(scope, c.threads...), count, nil)
			checkMessages(e.t, fmt.Sprintf("%s, walk with count %d", c.name, count), got, c.want)
		}
	}
}

// filterMessages returns those of ms in the threads.
func filterMessages(ms []mews.Message, threads ...uuid.UUID) []mews.Message {
	var out []mews.Message
	for _, m := range ms {
		for _, th := range threads {
			if m.ThreadID == th {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

func messagesPagesStableWhileAdding(e *env) {
	scope := e.scope(e.e1)
	th := e.thread(e.a, e.e1, 0)
	var ms []mews.Message
	for i := range 10 {
		ms = append(ms, newMessage(th.ID, i/3, mews.SenderApplication))
	}
	e.addMessages(scope, ms...)
	newest := 3
	got := e.walkMessages(byThreads(scope, th.ID), 3, func() {
		e.addMessages(scope,
			newMessage(th.ID, newest, mews.SenderEnterprise),
			newMessage(th.ID, newest+1, mews.SenderApplication))
		newest++
	})
	checkMessages(e.t, "walk while adding", got, newestFirst(ms, messageCreated))
}

// messagesPagesRandom walks, with random page sizes, the messages of random
// sets of threads, among messages that the filter excludes; with adding,
// new messages arrive between the pages.
func messagesPagesRandom(e *env, adding bool) {
	r := newRand(e.t)
	scope := e.scope(e.e1, e.e2)
	for round := range 20 {
		e.a = uuid.New()
		scope.IntegrationID = e.a
		var threads []uuid.UUID // of the scope
		for range 1 + r.Intn(4) {
			threads = append(threads, e.thread(e.a, []uuid.UUID{e.e1, e.e2}[r.Intn(2)], 0).ID)
		}
		theirs := e.thread(e.b, e.e1, 0).ID
		elsewhere := e.thread(e.a, e.e3, 0).ID

		var ms []mews.Message
		newest := 0
		for range r.Intn(10) {
			var batch []mews.Message
			for range 1 + r.Intn(10) {
				sec := r.Intn(20)
				newest = max(newest, sec)
				batch = append(batch, newMessage(threads[r.Intn(len(threads))], sec, mews.SenderApplication))
			}
			ms = append(ms, e.addMessages(scope, batch...)...)
		}
		e.addMessages(mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}},
			newMessage(theirs, 5, mews.SenderApplication))
		e.addMessages(e.scope(e.e3), newMessage(elsewhere, 5, mews.SenderApplication))

		asked := threads[:1+r.Intn(len(threads))]
		f := byThreads(scope, append([]uuid.UUID{theirs, elsewhere}, asked...)...)
		want := newestFirst(filterMessages(ms, asked...), messageCreated)
		count := 1 + r.Intn(len(want)+3)
		var between func()
		if adding {
			between = func() {
				var batch []mews.Message
				for range r.Intn(3) {
					newest += r.Intn(2)
					batch = append(batch, newMessage(threads[r.Intn(len(threads))], newest, mews.SenderEnterprise))
				}
				if len(batch) > 0 {
					e.addMessages(scope, batch...)
				}
			}
		}
		got := e.walkMessages(f, count, between)
		checkMessages(e.t, fmt.Sprintf("round %d: %d of %d threads, %d messages, count %d",
			round, len(asked), len(threads), len(want), count), got, want)
		if e.t.Failed() {
			return
		}
	}
}

func messagesCursorUnknown(e *env) {
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))
	f := byThreads(e.scope(e.e1), th.ID)
	unknown := uuid.New()
	f.Page.Cursor = &unknown
	_, err := e.s.MessagesGetAll(e.ctx, f)
	wantInvalid(e.t, err, uuid.Nil)
}

func messagesCursorOfOtherIntegration(e *env) {
	ours := e.thread(e.a, e.e1, 0)
	theirs := e.thread(e.b, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(ours.ID, 1, mews.SenderApplication))
	m := e.addMessages(mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}},
		newMessage(theirs.ID, 2, mews.SenderApplication))[0]
	f := byThreads(e.scope(e.e1), ours.ID, theirs.ID)
	f.Page.Cursor = &m.ID
	_, err := e.s.MessagesGetAll(e.ctx, f)
	wantInvalid(e.t, err, uuid.Nil)
}

func messagesCursorOutsideEnterpriseScope(e *env) {
	ours := e.thread(e.a, e.e1, 0)
	elsewhere := e.thread(e.a, e.e2, 0)
	first := e.addMessages(e.scope(e.e1), newMessage(ours.ID, 1, mews.SenderApplication))
	m := e.addMessages(e.scope(e.e2), newMessage(elsewhere.ID, 2, mews.SenderApplication))[0]

	f := byThreads(e.scope(e.e1), ours.ID, elsewhere.ID)
	f.Page.Cursor = &m.ID
	_, err := e.s.MessagesGetAll(e.ctx, f)
	wantInvalid(e.t, err, uuid.Nil)

	f.Scope = e.scope(e.e1, e.e2)
	checkMessages(e.t, "same cursor in the portfolio scope", e.messages(f), first)
}

// messagesCursorOfAThreadNotAsked: the cursor is a message of a thread in
// scope that the filter does not name; the page is the asked thread's
// messages older than it.
func messagesCursorOfAThreadNotAsked(e *env) {
	asked := e.thread(e.a, e.e1, 0)
	other := e.thread(e.a, e.e1, 0)
	older := e.addMessages(e.scope(e.e1), newMessage(asked.ID, 1, mews.SenderApplication))
	m := e.addMessages(e.scope(e.e1), newMessage(other.ID, 2, mews.SenderApplication))[0]
	e.addMessages(e.scope(e.e1), newMessage(asked.ID, 3, mews.SenderApplication))

	f := byThreads(e.scope(e.e1), asked.ID)
	f.Page.Cursor = &m.ID
	checkMessages(e.t, "page after a message of another thread", e.messages(f), older)
}

func messagesCursorThreadIDIsUnknown(e *env) {
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))
	f := byThreads(e.scope(e.e1), th.ID)
	f.Page.Cursor = &th.ID
	_, err := e.s.MessagesGetAll(e.ctx, f)
	wantInvalid(e.t, err, uuid.Nil)
}
