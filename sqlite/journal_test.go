package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The journal of a data file lives in an unlinked file: nothing of it is
// in the directory while the store is open, and two stores on one file
// keep a journal each.
func TestJournalLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mews.db")
	a, b := open(t, path), open(t, path)
	entry := mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: "messages/add", Status: 200}
	if err := a.RequestsAdd(t.Context(), []mews.Request{entry}, 10); err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]*DB{"a": a, "b": b} {
		want := map[*DB]int64{a: 1, b: 0}[db]
		if n, err := db.RequestsCount(t.Context(), mews.RequestFilter{}); err != nil || n != want {
			t.Errorf("store %s: %d entries, %v; want %d", name, n, err, want)
		}
	}
	files := func() []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			if strings.Contains(e.Name(), "requests") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	if got := files(); len(got) != 0 {
		t.Errorf("journal files in the directory while open: %v", got)
	}
	for _, db := range []*DB{a, b} {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(); len(got) != 0 {
		t.Errorf("journal files in the directory after Close: %v", got)
	}
}

// The journal shows the newest keep entries exactly, although it deletes
// the older ones only in groups; a cursor beyond them is EINVALID, and
// after a clear it counts from the start again.
func TestJournalKeepsTheNewest(t *testing.T) {
	db := open(t, Memory)
	const keep = 5
	var ids []uuid.UUID
	add := func(n int) {
		t.Helper()
		batch := make([]mews.Request, n)
		for i := range batch {
			id := uuid.New()
			ids = append(ids, id)
			batch[i] = mews.Request{ID: id, CreatedUTC: time.Now(), Method: "POST", Operation: "messages/add", Status: 200}
		}
		if err := db.RequestsAdd(t.Context(), batch, keep); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() int {
		db.journal.mu.RLock()
		defer db.journal.mu.RUnlock()
		return db.journal.held
	}
	for round := range 3 {
		ids = nil
		for range 30 {
			add(3)
			want := min(len(ids), keep)
			if n, err := db.RequestsCount(t.Context(), mews.RequestFilter{}); err != nil || n != int64(want) {
				t.Fatalf("round %d: %d entries counted (%v), want %d", round, n, err, want)
			}
			page, err := db.RequestsGetAll(t.Context(), mews.RequestFilter{}, mews.Page{Count: 100})
			if err != nil || len(page) != want || page[0].ID != ids[len(ids)-1] || page[want-1].ID != ids[len(ids)-want] {
				t.Fatalf("round %d: a page of %d entries (%v), want the newest %d", round, len(page), err, want)
			}
			if n := rows(); n > keep+segmentEntries(keep)+3 {
				t.Fatalf("round %d: %d rows kept for %d entries", round, n, keep)
			}
		}
		old := ids[len(ids)-keep-1]
		if _, err := db.RequestsGetAll(t.Context(), mews.RequestFilter{}, mews.Page{Count: 10, Cursor: &old}); mews.ErrorCode(err) != mews.EINVALID {
			t.Errorf("round %d: cursor of an entry beyond keep: %v", round, err)
		}
		if err := db.RequestsClear(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := rows(); n != 0 {
			t.Fatalf("%d rows after a clear", n)
		}
	}
}

// A segment's meta is allocated once, as large as newSegment makes it:
// batches of the recorder's 256 entries that filled the last segment past
// its room grew its meta by append (a copy and a quarter more per
// segment). Every entry is still kept and read.
func TestJournalSegmentMetaIsNotGrown(t *testing.T) {
	db := open(t, Memory)
	const keep, batch = 10000, 256
	n := 0
	for range 3 * keep / 4 / batch {
		b := make([]mews.Request, batch)
		for i := range b {
			b[i] = mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: "messageThreads/add", Status: 200}
		}
		if err := db.RequestsAdd(t.Context(), b, keep); err != nil {
			t.Fatal(err)
		}
		n += batch
	}
	j := &db.journal
	if len(j.segs) < 3 {
		t.Fatalf("%d segments for %d entries, want 3 or more", len(j.segs), n)
	}
	for i, s := range j.segs {
		if c := cap(s.meta); c != segmentEntries(keep) {
			t.Errorf("segment %d: meta of %d entries holds %d, want %d (as allocated)", i, len(s.meta), c, segmentEntries(keep))
		}
	}
	if got, err := db.RequestsCount(t.Context(), mews.RequestFilter{}); err != nil || got != int64(n) {
		t.Errorf("%d entries counted (%v), want %d", got, err, n)
	}
}

// An entry's fields without a column of their own come back as they were
// written, nil bodies included; a value that is not an entry is an error.
func TestJournalEntryEncoding(t *testing.T) {
	req, res := `{"A":"é"}`, ""
	for _, e := range []mews.Request{
		{Method: "POST", IntegrationName: "Are you ready?", EnterpriseIDs: []uuid.UUID{uuid.New(), uuid.New()},
			AccessToken: "C66E…453D", Duration: 1234 * time.Microsecond, RequestBody: &req, ResponseBody: &res,
			Truncated: true, Message: "Invalid AccessToken."},
		{Method: "GET", EnterpriseIDs: []uuid.UUID{}},
	} {
		b := encodeEntry(nil, &e)
		var got mews.Request
		if err := decodeEntry(b, &got); err != nil {
			t.Fatal(err)
		}
		body := func(s *string) string {
			if s == nil {
				return "nil"
			}
			return fmt.Sprintf("%q", *s)
		}
		g, w := got, e
		g.RequestBody, g.ResponseBody, w.RequestBody, w.ResponseBody = nil, nil, nil, nil
		if fmt.Sprint(g) != fmt.Sprint(w) || body(got.RequestBody) != body(e.RequestBody) || body(got.ResponseBody) != body(e.ResponseBody) {
			t.Errorf("decoded %+v\nwant %+v", got, e)
		}
		for n := range len(b) {
			if err := decodeEntry(b[:n], &got); err == nil {
				t.Errorf("the first %d of %d bytes decoded", n, len(b))
			}
		}
	}
}

// A record holds the whole entry but the hash of its token, and a prefix
// of one is not a record.
func TestJournalRecordEncoding(t *testing.T) {
	req := `{"A":"é"}`
	e := mews.Request{ID: uuid.New(), CreatedUTC: time.UnixMicro(-5).UTC(), Method: "POST", Operation: "messages/add",
		IntegrationID: uuid.New(), IntegrationName: "A", EnterpriseIDs: []uuid.UUID{uuid.New()}, AccessToken: "C66E…453D",
		Status: 401, Duration: time.Millisecond, RequestBody: &req, ThreadIDs: []uuid.UUID{uuid.New(), uuid.New()}}
	b := encodeRecord(nil, &e)
	var got mews.Request
	if err := decodeRecord(b, &got); err != nil {
		t.Fatal(err)
	}
	g, w := got, e
	g.RequestBody, w.RequestBody = nil, nil
	if g, w := fmt.Sprint(g), fmt.Sprint(w); g != w || got.RequestBody == nil || *got.RequestBody != req || got.ResponseBody != nil {
		t.Errorf("decoded %s\nwant %s", g, w)
	}
	for n := range len(b) {
		if err := decodeRecord(b[:n], &got); err == nil {
			t.Errorf("the first %d of %d bytes decoded", n, len(b))
		}
	}
}

// Filters of what an entry's requestMeta does not hold (a long path as
// its operation, many threads) read its record, on a file and in memory.
func TestJournalFiltersReadLongFields(t *testing.T) {
	for _, path := range []string{Memory, filepath.Join(t.TempDir(), "mews.db")} {
		db := open(t, path)
		threads := make([]uuid.UUID, metaThreads+3)
		for i := range threads {
			threads[i] = uuid.New()
		}
		long := strings.Repeat("x", metaOperation+1)
		a := mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: long, Status: 404}
		b := mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: "messages/getAll", Status: 200, ThreadIDs: threads}
		if err := db.RequestsAdd(t.Context(), []mews.Request{a, b}, 10); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f    mews.RequestFilter
			want []uuid.UUID
		}{
			{mews.RequestFilter{Operations: []string{long}}, []uuid.UUID{a.ID}},
			{mews.RequestFilter{Operations: []string{long[1:]}}, nil},
			{mews.RequestFilter{ThreadIDs: []uuid.UUID{threads[len(threads)-1]}}, []uuid.UUID{b.ID}},
			{mews.RequestFilter{ThreadIDs: []uuid.UUID{uuid.New()}}, nil},
			{mews.RequestFilter{Operations: []string{"messages/getAll", long}}, []uuid.UUID{b.ID, a.ID}},
		} {
			page, err := db.RequestsGetAll(t.Context(), tc.f, mews.Page{Count: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []uuid.UUID
			for _, r := range page {
				got = append(got, r.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: filter %+v: %v, want %v", path, tc.f, got, tc.want)
			}
			if n, err := db.RequestsCount(t.Context(), tc.f); err != nil || n != int64(len(tc.want)) {
				t.Errorf("%s: count %d (%v), want %d", path, n, err, len(tc.want))
			}
			if len(page) > 0 && page[len(page)-1].ID == a.ID && page[len(page)-1].Operation != long {
				t.Errorf("%s: operation read back %q", path, page[len(page)-1].Operation)
			}
		}
	}
}

// An entry's requestMeta holds no part of a longer string than its
// operation: the request's path, a part of its whole request line (a
// query of up to a megabyte), also once the interned operations are all
// taken.
func TestJournalMetaHoldsNoRequestLine(t *testing.T) {
	db := open(t, Memory)
	add := func(op string) {
		t.Helper()
		e := mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: op, Status: 404}
		if err := db.RequestsAdd(t.Context(), []mews.Request{e}, 10); err != nil {
			t.Fatal(err)
		}
	}
	for i := range metaOperations + 1 {
		add(fmt.Sprintf("unknown/%d", i))
	}
	line := "POST /api/connector/v1/late/op?" + strings.Repeat("q", 1<<20) + " HTTP/1.1"
	op := line[len("POST /api/connector/v1/"):strings.IndexByte(line, '?')]
	add(op)
	db.journal.mu.RLock()
	defer db.journal.mu.RUnlock()
	segs := db.journal.segs
	m := segs[len(segs)-1].meta[len(segs[len(segs)-1].meta)-1]
	if m.op != op {
		t.Fatalf("operation %q, want %q", m.op, op)
	}
	start, p := uintptr(unsafe.Pointer(unsafe.StringData(line))), uintptr(unsafe.Pointer(unsafe.StringData(m.op)))
	if p >= start && p < start+uintptr(len(line)) {
		t.Errorf("the operation of an entry's requestMeta is a part of the request line of %d bytes", len(line))
	}
}

// A batch whose write fails (a full disk) is lost, and only it: the
// entries before and after it read back whole, from where they are.
func TestJournalWriteErrorLosesTheBatchOnly(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "mews.db"))
	body := strings.Repeat("b", 60<<10) // batches of several writes of records
	batch := func(n int) []mews.Request {
		b := make([]mews.Request, n)
		for i := range b {
			b[i] = mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: "messages/add", Status: 200, RequestBody: &body}
		}
		return b
	}
	first, lost, last := batch(10), batch(10), batch(10)
	if err := db.RequestsAdd(t.Context(), first, 100); err != nil {
		t.Fatal(err)
	}
	s := db.journal.segs[len(db.journal.segs)-1]
	f := s.f
	ro, err := os.Open("/proc/self/fd/" + fmt.Sprint(f.Fd())) // the same file, read only: its writes fail
	if err != nil {
		t.Skip(err)
	}
	s.f = ro
	if err := db.RequestsAdd(t.Context(), lost, 100); err == nil {
		t.Fatal("a batch written to a file that cannot be written: no error")
	}
	s.f = f
	ro.Close()
	if err := db.RequestsAdd(t.Context(), last, 100); err != nil {
		t.Fatal(err)
	}
	page, err := db.RequestsGetAll(t.Context(), mews.RequestFilter{}, mews.Page{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(first), last...)
	slices.Reverse(want)
	if len(page) != len(want) {
		t.Fatalf("%d entries read back, want %d", len(page), len(want))
	}
	for i, e := range page {
		if e.ID != want[i].ID || e.RequestBody == nil || *e.RequestBody != body {
			t.Errorf("entry %d: %s, want %s with its body", i, e.ID, want[i].ID)
		}
	}
	if n, err := db.RequestsCount(t.Context(), mews.RequestFilter{}); err != nil || n != int64(len(want)) {
		t.Errorf("count %d (%v), want %d", n, err, len(want))
	}
}
