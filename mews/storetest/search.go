package storetest

import (
	"slices"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// searchTests check mews.Admin.ThreadsSearch, the inbox's query.
func searchTests() []test {
	return []test{
		{"AdminSearchLatestActivityFirst", adminSearchLatestActivityFirst},
		{"AdminSearchFilters", adminSearchFilters},
		{"AdminSearchText", adminSearchText},
	}
}

func (e *env) search(q mews.ThreadSearch) []mews.ThreadSummary {
	e.t.Helper()
	got, err := e.admin().ThreadsSearch(e.ctx, q)
	if err != nil {
		e.t.Fatalf("ThreadsSearch(%+v): %v", q, err)
	}
	return got
}

func summaryIDs(ss []mews.ThreadSummary) []uuid.UUID {
	ids := make([]uuid.UUID, len(ss))
	for i, s := range ss {
		ids[i] = s.Thread.ID
	}
	return ids
}

// Threads come by UpdatedUTC, newest first, ties by insertion order; each
// with its newest message; pages follow the cursor.
func adminSearchLatestActivityFirst(e *env) {
	t0 := e.thread(e.a, e.e1, 0)
	t1 := e.thread(e.b, e.e1, 1)
	t2 := e.thread(e.a, e.e1, 2)
	t3 := e.thread(e.a, e.e1, 2) // same second as t2, inserted later
	e.thread(e.a, e.e2, 50)      // another enterprise
	owner := func(t mews.Thread) mews.Scope {
		return mews.Scope{IntegrationID: t.IntegrationID, EnterpriseIDs: []uuid.UUID{t.EnterpriseID}}
	}
	e.addMessages(owner(t0), newMessage(t0.ID, 10, mews.SenderApplication))
	last := e.addMessages(owner(t0), newMessage(t0.ID, 20, mews.SenderEnterprise))[0]
	e.addMessages(owner(t1), newMessage(t1.ID, 5, mews.SenderApplication))
	want := []uuid.UUID{t0.ID, t1.ID, t3.ID, t2.ID}

	got := e.search(mews.ThreadSearch{EnterpriseID: e.e1, Page: mews.Page{Count: 10}})
	if ids := summaryIDs(got); !slices.Equal(ids, want) {
		e.t.Fatalf("order = %v, want %v", ids, want)
	}
	if m := got[0].LastMessage; m == nil || m.ID != last.ID || m.Sender != mews.SenderEnterprise || m.Text != last.Text {
		e.t.Errorf("LastMessage of t0 = %+v, want %+v", m, last)
	}
	if !got[0].Thread.UpdatedUTC.Equal(at(20)) {
		e.t.Errorf("UpdatedUTC of t0 = %s, want %s", got[0].Thread.UpdatedUTC, at(20))
	}
	if got[2].LastMessage != nil {
		e.t.Errorf("LastMessage of a thread without messages = %+v, want none", got[2].LastMessage)
	}

	pages := walk(e.t, 3, func(cursor *uuid.UUID) ([]mews.ThreadSummary, error) {
		return e.admin().ThreadsSearch(e.ctx, mews.ThreadSearch{EnterpriseID: e.e1, Page: mews.Page{Cursor: cursor, Count: 3}})
	}, func(s mews.ThreadSummary) uuid.UUID { return s.Thread.ID }, nil)
	if ids := summaryIDs(pages); !slices.Equal(ids, want) {
		e.t.Errorf("pages of 3 = %v, want %v", ids, want)
	}

	other := e.thread(e.a, e.e3, 0)
	_, err := e.admin().ThreadsSearch(e.ctx, mews.ThreadSearch{EnterpriseID: e.e1, Page: mews.Page{Cursor: &other.ID, Count: 3}})
	wantInvalid(e.t, err, other.ID)
}

func adminSearchFilters(e *env) {
	ta := e.thread(e.a, e.e1, 0)
	tb := e.thread(e.b, e.e1, 1)
	if _, err := e.admin().ThreadSetResolved(e.ctx, tb.ID, true); err != nil {
		e.t.Fatal(err)
	}
	yes, no := true, false
	for _, c := range []struct {
		name string
		q    mews.ThreadSearch
		want []uuid.UUID
	}{
		{"integration A", mews.ThreadSearch{IntegrationID: &e.a}, []uuid.UUID{ta.ID}},
		{"integration B", mews.ThreadSearch{IntegrationID: &e.b}, []uuid.UUID{tb.ID}},
		{"resolved", mews.ThreadSearch{IsResolved: &yes}, []uuid.UUID{tb.ID}},
		{"open", mews.ThreadSearch{IsResolved: &no}, []uuid.UUID{ta.ID}},
		{"open of B", mews.ThreadSearch{IntegrationID: &e.b, IsResolved: &no}, nil},
	} {
		c.q.EnterpriseID, c.q.Page.Count = e.e1, 10
		if ids := summaryIDs(e.search(c.q)); !slices.Equal(ids, c.want) && (len(ids) != 0 || len(c.want) != 0) {
			e.t.Errorf("%s: %v, want %v", c.name, ids, c.want)
		}
	}
}

// Text matches subjects, senders and message texts, any part, ASCII case
// folded, with markup, quotes, non-ASCII bytes and LIKE metacharacters
// taken literally.
func adminSearchText(e *env) {
	mk := func(sender, subject string) mews.Thread {
		th := newThread(e.a, e.e1, 0)
		th.OriginalSender, th.Subject = sender, subject
		return e.addThread(th)
	}
	bySubject := mk("Ann", `Late <b>check-in</b> "today"`)
	bySender := mk("Zoë O'Brien", "Parking")
	byText := mk("Bob", "Question")
	m := newMessage(byText.ID, 1, mews.SenderApplication)
	m.Text = "Is BREAKFAST included? 100% sure_"
	e.addMessages(e.scope(e.e1), m)
	mk("Carl", "Nothing to see")

	for _, c := range []struct {
		text string
		want []uuid.UUID
	}{
		{"CHECK-IN", []uuid.UUID{bySubject.ID}},
		{`"today"`, []uuid.UUID{bySubject.ID}},
		{"<b>", []uuid.UUID{bySubject.ID}},
		{"zoë o'b", []uuid.UUID{bySender.ID}},
		{"breakfast", []uuid.UUID{byText.ID}},
		{"100%", []uuid.UUID{byText.ID}},
		{"%", []uuid.UUID{byText.ID}},
		{"e_", []uuid.UUID{byText.ID}},
		{`\`, nil},
		{"ZOË", nil}, // only ASCII letters fold
		{"absent", nil},
	} {
		got := summaryIDs(e.search(mews.ThreadSearch{EnterpriseID: e.e1, Text: c.text, Page: mews.Page{Count: 10}}))
		if !slices.Equal(got, c.want) && (len(got) != 0 || len(c.want) != 0) {
			e.t.Errorf("Text %q: %v, want %v", c.text, got, c.want)
		}
	}
}
