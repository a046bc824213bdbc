package storetest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The request journal (mews.Journal): what the recorder and the admin API's
// requests/* operations rely on.

func journalTests() []test {
	return []test{
		{"JournalEveryFieldRoundTrips", journalEveryFieldRoundTrips},
		{"JournalNewestFirstTiesByRecording", journalNewestFirstTiesByRecording},
		{"JournalKeepsTheNewest", journalKeepsTheNewest},
		{"JournalPagesVisitEachOnceWhileRecording", journalPagesVisitEachOnceWhileRecording},
		{"JournalCursorUnknown", journalCursorUnknown},
		{"JournalFilters", journalFilters},
		{"JournalClear", journalClear},
	}
}

func (e *env) journal() mews.Journal {
	j, ok := e.s.(mews.Journal)
	if !ok {
		e.t.Fatalf("%T does not implement mews.Journal", e.s)
	}
	return j
}

var journalBase = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// entry returns a distinct entry received at journalBase plus micros.
func entry(micros int) mews.Request {
	return mews.Request{
		ID: uuid.New(), CreatedUTC: journalBase.Add(time.Duration(micros) * time.Microsecond),
		Method: "POST", Operation: "messageThreads/add", Status: 200,
		EnterpriseIDs: []uuid.UUID{}, ThreadIDs: []uuid.UUID{},
	}
}

func (e *env) record(keep int, entries ...mews.Request) {
	e.t.Helper()
	if err := e.journal().RequestsAdd(e.ctx, entries, keep); err != nil {
		e.t.Fatalf("RequestsAdd: %v", err)
	}
}

func (e *env) requests(f mews.RequestFilter, p mews.Page) []mews.Request {
	e.t.Helper()
	got, err := e.journal().RequestsGetAll(e.ctx, f, p)
	if err != nil {
		e.t.Fatalf("RequestsGetAll: %v", err)
	}
	return got
}

func (e *env) countRequests(f mews.RequestFilter) int64 {
	e.t.Helper()
	n, err := e.journal().RequestsCount(e.ctx, f)
	if err != nil {
		e.t.Fatalf("RequestsCount: %v", err)
	}
	return n
}

func requestIDs(rs []mews.Request) []uuid.UUID {
	ids := make([]uuid.UUID, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func journalEveryFieldRoundTrips(e *env) {
	req, res := `{"ClientToken":"E0D4…1D","Text":"héllo"}`, `{"Message":"x"}`
	want := mews.Request{
		ID: uuid.New(), CreatedUTC: journalBase.Add(123456 * time.Microsecond),
		Method: "POST", Operation: "messages/add",
		IntegrationID: e.a, IntegrationName: "Integration A",
		EnterpriseIDs: []uuid.UUID{e.e1, e.e2}, AccessToken: "C66E…453D",
		AccessTokenHash: hash("secret"), Status: 400, Duration: 1500 * time.Microsecond,
		RequestBody: &req, ResponseBody: &res, Truncated: true, Message: "x",
		ThreadIDs: []uuid.UUID{e.e3},
	}
	none := entry(1) // unauthenticated, no bodies
	e.record(10, want, none)
	got := e.requests(mews.RequestFilter{}, mews.Page{Count: 10})
	if len(got) != 2 {
		e.t.Fatalf("got %d entries, want 2", len(got))
	}
	// The hash is for matching only; it is not read back.
	want.AccessTokenHash = nil
	if diff := requestDiff(got[0], want); diff != "" {
		e.t.Errorf("entry read back: %s", diff)
	}
	if diff := requestDiff(got[1], none); diff != "" {
		e.t.Errorf("entry without integration or bodies read back: %s", diff)
	}
}

func requestDiff(got, want mews.Request) string {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	switch {
	case got.ID != want.ID, !got.CreatedUTC.Equal(want.CreatedUTC), got.Method != want.Method,
		got.Operation != want.Operation, got.IntegrationID != want.IntegrationID,
		got.IntegrationName != want.IntegrationName, !slices.Equal(got.EnterpriseIDs, want.EnterpriseIDs),
		got.AccessToken != want.AccessToken, got.Status != want.Status, got.Duration != want.Duration,
		str(got.RequestBody) != str(want.RequestBody), str(got.ResponseBody) != str(want.ResponseBody),
		got.Truncated != want.Truncated, got.Message != want.Message, !slices.Equal(got.ThreadIDs, want.ThreadIDs),
		got.CreatedUTC.Location() != time.UTC:
		return fmt.Sprintf("got %+v (bodies %q, %q), want %+v (bodies %q, %q)",
			got, str(got.RequestBody), str(got.ResponseBody), want, str(want.RequestBody), str(want.ResponseBody))
	}
	return ""
}

func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Entries received in the same microsecond come in the order they were
// recorded, the newest first; an entry recorded late with an older instant
// sorts by its instant.
func journalNewestFirstTiesByRecording(e *env) {
	a, b, c, late := entry(5), entry(5), entry(7), entry(1)
	e.record(10, a, b)
	e.record(10, c, late)
	got := requestIDs(e.requests(mews.RequestFilter{}, mews.Page{Count: 10}))
	if want := []uuid.UUID{c.ID, b.ID, a.ID, late.ID}; !slices.Equal(got, want) {
		e.t.Errorf("order %v, want %v", got, want)
	}
}

func journalKeepsTheNewest(e *env) {
	var all []mews.Request
	for i := range 12 {
		r := entry(i)
		all = append(all, r)
		e.record(5, r)
	}
	batch := []mews.Request{entry(100), entry(101), entry(102)}
	e.record(5, batch...)
	all = append(all, batch...)
	got := requestIDs(e.requests(mews.RequestFilter{}, mews.Page{Count: 100}))
	want := requestIDs(all[len(all)-5:])
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		e.t.Errorf("kept %v, want the newest five %v", got, want)
	}
	if n := e.countRequests(mews.RequestFilter{}); n != 5 {
		e.t.Errorf("count %d, want 5", n)
	}
}

// A walk of pages lists every entry that was there when it started exactly
// once, while entries are being recorded.
func journalPagesVisitEachOnceWhileRecording(e *env) {
	var before []uuid.UUID
	for i := range 50 {
		r := entry(i)
		before = append(before, r.ID)
		e.record(1000, r)
	}
	seen := map[uuid.UUID]int{}
	var cursor *uuid.UUID
	for page := 0; ; page++ {
		e.record(1000, entry(1000+page), entry(1000+page))
		got := e.requests(mews.RequestFilter{}, mews.Page{Count: 7, Cursor: cursor})
		if len(got) == 0 {
			break
		}
		for _, r := range got {
			seen[r.ID]++
		}
		cursor = &got[len(got)-1].ID
	}
	for _, id := range before {
		if seen[id] != 1 {
			e.t.Errorf("entry %s listed %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			e.t.Errorf("entry %s listed %d times", id, n)
		}
	}
}

func journalCursorUnknown(e *env) {
	e.record(10, entry(1))
	unknown := uuid.New()
	_, err := e.journal().RequestsGetAll(e.ctx, mews.RequestFilter{}, mews.Page{Count: 1, Cursor: &unknown})
	if mews.ErrorCode(err) != mews.EINVALID {
		e.t.Errorf("unknown cursor: %v, want EINVALID", err)
	}
}

func journalFilters(e *env) {
	thread, other := uuid.New(), uuid.New()
	r1 := entry(1)
	r1.Operation, r1.IntegrationID, r1.IntegrationName, r1.AccessTokenHash, r1.ThreadIDs = "messages/add", e.a, "A", hash("tok-a"), []uuid.UUID{other, thread}
	r2 := entry(2)
	r2.Operation, r2.IntegrationID, r2.IntegrationName, r2.AccessTokenHash, r2.Status = "messages/getAll", e.b, "B", hash("tok-b"), 401
	r3 := entry(3)
	r3.Operation, r3.Status, r3.AccessTokenHash = "messages/add", 400, hash("tok-a")
	e.record(10, r1, r2, r3)
	for _, tc := range []struct {
		name string
		f    mews.RequestFilter
		want []uuid.UUID
	}{
		{"none", mews.RequestFilter{}, []uuid.UUID{r3.ID, r2.ID, r1.ID}},
		{"operations", mews.RequestFilter{Operations: []string{"messages/add"}}, []uuid.UUID{r3.ID, r1.ID}},
		{"integrations", mews.RequestFilter{IntegrationIDs: []uuid.UUID{e.b, e.e1}}, []uuid.UUID{r2.ID}},
		// An entry refused before authentication has no integration: the
		// nil id is none of its.
		{"integration nil", mews.RequestFilter{IntegrationIDs: []uuid.UUID{uuid.Nil}}, []uuid.UUID{}},
		{"access token", mews.RequestFilter{AccessTokenHash: hash("tok-a")}, []uuid.UUID{r3.ID, r1.ID}},
		{"statuses", mews.RequestFilter{Statuses: []int{400, 401}}, []uuid.UUID{r3.ID, r2.ID}},
		{"created inclusive", mews.RequestFilter{Created: &mews.Interval{Start: r1.CreatedUTC, End: r2.CreatedUTC}}, []uuid.UUID{r2.ID, r1.ID}},
		{"ids", mews.RequestFilter{IDs: []uuid.UUID{r1.ID, r3.ID, uuid.New()}}, []uuid.UUID{r3.ID, r1.ID}},
		{"threads", mews.RequestFilter{ThreadIDs: []uuid.UUID{thread}}, []uuid.UUID{r1.ID}},
		{"and", mews.RequestFilter{Operations: []string{"messages/add"}, Statuses: []int{200}}, []uuid.UUID{r1.ID}},
		{"nothing", mews.RequestFilter{Operations: []string{"messages/add"}, IntegrationIDs: []uuid.UUID{e.b}}, []uuid.UUID{}},
	} {
		got := requestIDs(e.requests(tc.f, mews.Page{Count: 10}))
		if !slices.Equal(got, tc.want) {
			e.t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if n := e.countRequests(tc.f); n != int64(len(tc.want)) {
			e.t.Errorf("%s: count %d, want %d", tc.name, n, len(tc.want))
		}
	}
}

func journalClear(e *env) {
	e.record(10, entry(1), entry(2))
	if err := e.journal().RequestsClear(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if n := e.countRequests(mews.RequestFilter{}); n != 0 {
		e.t.Errorf("after clear: %d entries", n)
	}
	r := entry(3)
	e.record(10, r)
	if got := requestIDs(e.requests(mews.RequestFilter{}, mews.Page{Count: 10})); !slices.Equal(got, []uuid.UUID{r.ID}) {
		e.t.Errorf("after clear and a new entry: %v", got)
	}
}
