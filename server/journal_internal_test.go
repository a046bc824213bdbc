package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/sqlite"
)

func TestMaskTokenProperties(t *testing.T) {
	for _, tc := range []struct{ in, want, access string }{
		{`{"ClientToken":"0123456789abcdef","AccessToken":"fedcba9876543210x","Text":"token"}`,
			`{"ClientToken":"01…ef","AccessToken":"fe…0x","Text":"token"}`, "fedcba9876543210x"},
		{`{ "clienttoken" : "0123456789abcdef" , "MyTOKENs": "abc"}`, `{ "clienttoken" : "01…ef" , "MyTOKENs": "****"}`, ""},
		{`{"AccessToken":"with \" quote 0123"}`, `{"AccessToken":"****"}`, ""},
		{`{"AccessToken":"0123456789abcdef\\","Text":"x"}`, `{"AccessToken":"****","Text":"x"}`, ""}, // an escaped backslash ends it
		// Where a token's place cannot be told, every string is masked.
		{`{"AccessToken":12, "Text":"AccessToken"}`, `{"****":12, "****":"****"}`, ""},
		{`{"AccessToken":["0123456789abcdef"]}`, `{"****":["****"]}`, ""},
		{`{"AccessToken":"0123456789abcdef`, `{"****":"****`, ""}, // cut
		{`{"ClientToken" "0123456789abcdef"}`, `{"****" "****"}`, ""},
		{`{"Client":"x","ClientT\oken":"0123456789abcdef"}`, `{"****":"****","****":"****"}`, ""}, // a name that does not decode
		// Names are compared as decoded.
		{`{"Client\u0054oken":"0123456789abcdef","Client":"x"}`, `{"Client\u0054oken":"01…ef","Client":"x"}`, ""},
		{`{"Access\u0054oken":"0123456789abcdef"}`, `{"Access\u0054oken":"01…ef"}`, "0123456789abcdef"},
		{`not json "AccessToken": "0123456789abcdef" tail`, `not json "AccessToken": "01…ef" tail`, "0123456789abcdef"},
		{`{"Text":"ClientToken \u0022"}`, `{"Text":"ClientToken \u0022"}`, ""},
		// In any case, as the decoder compares names: the Kelvin sign is a k.
		{`{"AccessToKen":"0123456789abcdef","Ωtoken":"0123456789abcdef"}`, `{"AccessToKen":"01…ef","Ωtoken":"01…ef"}`, ""},
		{`{"accesstoKEN":"0123456789abcdef","Tokyo":"x"}`, `{"accesstoKEN":"01…ef","Tokyo":"x"}`, ""},
	} {
		got, access, _ := maskTokenProperties(nil, []byte(tc.in))
		if string(got) != tc.want || string(access) != tc.access {
			t.Errorf("mask %s\n got %s (access %q)\nwant %s (access %q)", tc.in, got, access, tc.want, tc.access)
		}
	}
}

func TestKeepBodyCutsAtARuneBoundary(t *testing.T) {
	b := []byte(strings.Repeat("a", journalResponseLimit-1) + "é" + "tail")
	got, cut := keepBody(b, journalResponseLimit, false)
	if !cut || len(got) != journalResponseLimit-1 {
		t.Errorf("cut %v, kept %d bytes, want %d", cut, len(got), journalResponseLimit-1)
	}
	if got, cut := keepBody([]byte("short"), journalResponseLimit, false); cut || got != "short" {
		t.Errorf("short body: %q %v", got, cut)
	}
	// A capture that stopped inside a character: the character goes.
	if got, cut := keepBody([]byte("ab\xc3"), journalResponseLimit, true); !cut || got != "ab" {
		t.Errorf("captured start cut in a rune: %q %v", got, cut)
	}
	if got, _ := keepBody([]byte("abé"), journalResponseLimit, true); got != "abé" {
		t.Errorf("captured start ending with a whole rune: %q", got)
	}
}

// The capture passes every byte through and keeps the start of the
// response; a token that the kept start cuts is cut off, not shown in
// part, and one before the limit is masked.
func TestCaptureKeepsTheMaskedStart(t *testing.T) {
	const token = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
	for _, at := range []int{0, journalResponseLimit - 10, journalResponseLimit + journalResponseMargin - 20} {
		resp := strings.Repeat("x", at) + token + strings.Repeat("y", 3*journalResponseLimit)
		rec := httptest.NewRecorder()
		p := pendingPool.Get().(*pending)
		p.ResponseWriter = rec
		for chunk := range slices.Chunk([]byte(resp), 1000) {
			if _, err := p.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if rec.Body.String() != resp {
			t.Fatalf("token at %d: the client got %d bytes of %d", at, rec.Body.Len(), len(resp))
		}
		p.accessToken = token
		e := p.finish() // valid until p.recycle()
		if !e.Truncated || e.ResponseBody == nil || len(*e.ResponseBody) > journalResponseLimit {
			t.Fatalf("token at %d: truncated %v, body %v", at, e.Truncated, e.ResponseBody)
		}
		body := *e.ResponseBody
		for n := 8; n <= len(token); n++ {
			if strings.Contains(body, token[:n]) {
				t.Errorf("token at %d: %d bytes of the token in the journal", at, n)
				break
			}
		}
		if at == 0 && !strings.HasPrefix(body, MaskToken(token)) {
			t.Errorf("token at 0: the body starts %.20q, want the mask", body)
		}
		p.recycle()
	}
}

// The queue holds only the start of a long request body, and the journal
// keeps it masked: a token that the start cuts is cut off, not shown in
// part.
func TestQueuedRequestBodyIsBoundedAndMasked(t *testing.T) {
	const token = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
	for _, at := range []int{0, journalRequestLimit - 10, journalRequestLimit + journalResponseMargin - 20} {
		body := []byte(strings.Repeat("x", at) + token + strings.Repeat("y", 3*journalRequestLimit))
		p := pendingPool.Get().(*pending)
		p.body, p.bodyCut = queuedBody(body)
		if !p.bodyCut || len(p.body) > journalRequestLimit+journalResponseMargin || &p.body[0] == &body[0] {
			t.Fatalf("token at %d: queued %d bytes (cut %v), a copy: %v", at, len(p.body), p.bodyCut, &p.body[0] != &body[0])
		}
		p.accessToken = token
		e := p.finish() // valid until p.recycle()
		if !e.Truncated || e.RequestBody == nil || len(*e.RequestBody) > journalRequestLimit {
			t.Fatalf("token at %d: truncated %v, body of %d bytes", at, e.Truncated, len(*e.RequestBody))
		}
		for n := 8; n <= len(token); n++ {
			if strings.Contains(*e.RequestBody, token[:n]) {
				t.Errorf("token at %d: %d bytes of the token in the journal", at, n)
				break
			}
		}
		p.recycle()
	}
	if b, cut := queuedBody([]byte(`{"short":1}`)); cut || string(b) != `{"short":1}` {
		t.Errorf("a short body: %q, cut %v", b, cut)
	}
}

// blockedJournal is a journal whose writes wait until it is opened.
type blockedJournal struct {
	mews.Journal
	open    chan struct{}
	entered chan struct{} // closed at the first write
	once    sync.Once
}

func (b *blockedJournal) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) error {
	b.once.Do(func() { close(b.entered) })
	<-b.open
	return b.Journal.RequestsAdd(ctx, entries, keep)
}

// A journal that cannot keep up drops entries and counts them; every API
// request is still answered as usual.
func TestJournalDropsWhenItsQueueIsFull(t *testing.T) {
	db, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blocked := &blockedJournal{Journal: db, open: make(chan struct{}), entered: make(chan struct{})}
	h, closeFn, err := New(Config{Store: db, JournalStore: blocked, journalQueue: 4, AdminToken: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	ts := apitest.Server(t, h)
	post := func() {
		res, err := http.Post(ts.URL+"/api/connector/v1/messageThreads/add", "application/json", strings.NewReader(
			`{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
				"AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
				"Client":"t","OriginalSender":"A","Subject":"B"}`))
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("status %d with the journal stuck", res.StatusCode)
		}
	}
	// One request, until the recorder is stuck writing it; then more than
	// the queue holds.
	post()
	<-blocked.entered
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Go(post)
	}
	wg.Wait()
	close(blocked.open)
	// requests/count waits for what is queued, then says what was dropped.
	got := journalCount(t, h)
	if got.Dropped == 0 || got.Count == 0 || got.Count+got.Dropped != n+1 {
		t.Errorf("recorded %d and dropped %d of %d requests, with a queue of 4", got.Count, got.Dropped, n+1)
	}
	if err := closeFn(); err != nil {
		t.Error(err)
	}
}

func TestAppendMaskIsMaskToken(t *testing.T) {
	for _, tok := range []string{"", "a", "1234567", "12345678", "0123456789abcdef", "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D", "žluťoučký kůň úpěl ďábelské ódy"} {
		if got, want := string(appendMask([]byte("x"), []byte(tok))), "x"+MaskToken(tok); got != want {
			t.Errorf("appendMask(%q) = %q, want %q", tok, got, want)
		}
	}
}

// failingJournal is a journal whose writes fail, as on a full disk.
type failingJournal struct{ mews.Journal }

func (failingJournal) RequestsAdd(context.Context, []mews.Request, int) error {
	return errors.New("write /tmp/.mews.db-requests-1: no space left on device")
}

// A journal whose store fails to write is not the API's failure: every
// request is answered as usual, and what was lost is counted (Dropped)
// and logged.
func TestJournalCountsWhatItsStoreFailedToWrite(t *testing.T) {
	db, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var log bytes.Buffer
	var mu sync.Mutex
	h, closeFn, err := New(Config{Store: db, JournalStore: failingJournal{db}, AdminToken: "admin",
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := apitest.Server(t, h)
	const n = 3
	for range n {
		res, err := http.Post(ts.URL+"/api/connector/v1/messageThreads/add", "application/json", strings.NewReader(
			`{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
				"AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
				"Client":"t","OriginalSender":"A","Subject":"B"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("status %d with the journal's store failing", res.StatusCode)
		}
	}
	got := journalCount(t, h)
	if got.Count != 0 || got.Dropped != n {
		t.Errorf("count %d, dropped %d; want 0 and %d", got.Count, got.Dropped, n)
	}
	if err := closeFn(); err != nil {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), "request journal: could not record entries") || !strings.Contains(log.String(), "no space left on device") {
		t.Errorf("the log does not say that entries were lost, and why:\n%s", log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// A Message longer than the journal keeps is cut at a rune boundary and
// marked Truncated; a token that the cut splits is cut off, never shown in
// part.
func TestJournalCutsALongMessage(t *testing.T) {
	const token = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
	for _, at := range []int{0, journalMessageLimit - 10, journalMessageLimit + journalResponseMargin - 20} {
		long := strings.Repeat("é", at/2) + token + strings.Repeat("y", 3*journalMessageLimit)
		p := pendingPool.Get().(*pending)
		p.entry.Message, p.messageCut = queuedString(long, journalMessageLimit+journalResponseMargin)
		if !p.messageCut || len(p.entry.Message) > journalMessageLimit+journalResponseMargin {
			t.Fatalf("token at %d: queued %d bytes of the message (cut %v)", at, len(p.entry.Message), p.messageCut)
		}
		p.accessToken = token
		e := p.finish()
		p.recycle()
		if !e.Truncated || len(e.Message) > journalMessageLimit || !utf8.ValidString(e.Message) {
			t.Fatalf("token at %d: truncated %v, a message of %d bytes (valid UTF-8: %v)", at, e.Truncated, len(e.Message), utf8.ValidString(e.Message))
		}
		for n := 8; n <= len(token); n++ {
			if strings.Contains(e.Message, token[:n]) {
				t.Errorf("token at %d: %d bytes of the token in the message", at, n)
				break
			}
		}
	}
	if s, cut := queuedString("Not found.", journalMessageLimit); cut || s != "Not found." {
		t.Errorf("a short message: %q, cut %v", s, cut)
	}
}

// Under a flood of large answers (pages of 100 threads) and large request
// bodies while the recorder is stuck, the entries in flight stay within the
// journal's bound in bytes although its queue has room for every request:
// the rest are dropped and counted, and every API request is answered at
// once (none waits for the stuck recorder). On each engine.
func TestJournalBoundsTheBytesInFlight(t *testing.T) {
	engines := map[string]func(t *testing.T) mews.Store{
		"SQLite": func(t *testing.T) mews.Store {
			db, err := sqlite.Open(t.Context(), sqlite.Memory)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"PostgreSQL": func(t *testing.T) mews.Store {
			db, err := postgres.Open(t.Context(), pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) { testJournalBoundsTheBytesInFlight(t, open(t)) })
	}
}

func testJournalBoundsTheBytesInFlight(t *testing.T, store mews.Store) {
	const (
		client = "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D"
		access = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
		bound  = 256 << 10
	)
	creds := `"ClientToken":"` + client + `","AccessToken":"` + access + `","Client":"t"`
	post := func(url, body string) int {
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// The threads of the pages, added without a journal.
	setup, closeSetup, err := New(Config{Store: store, Journal: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts0 := apitest.Server(t, setup)
	subject := strings.Repeat("Late check-out, please? ", 10)
	for range 100 {
		if s := post(ts0.URL+"/api/connector/v1/messageThreads/add", `{`+creds+`,"OriginalSender":"A","Subject":"`+subject+`"}`); s != 200 {
			t.Fatalf("adding a thread: %d", s)
		}
	}
	ts0.Close()
	if err := closeSetup(); err != nil {
		t.Fatal(err)
	}

	blocked := &blockedJournal{Journal: store.(mews.Journal), open: make(chan struct{}), entered: make(chan struct{})}
	var rec *recorder
	h, closeFn, err := New(Config{Store: store, JournalStore: blocked, AdminToken: "admin",
		journalQueue: 10_000, journalBytes: bound, journalSeen: func(r *recorder) { rec = r }})
	if err != nil {
		t.Fatal(err)
	}
	ts := apitest.Server(t, h)
	now := time.Now().UTC()
	page := `{` + creds + `,"CreatedUtc":{"StartUtc":"` + now.Add(-time.Hour).Format(time.RFC3339) + `","EndUtc":"` +
		now.Add(time.Hour).Format(time.RFC3339) + `"},"Limitation":{"Count":100}}`
	// An unknown property of 200 KB (ignored), of which the queue holds
	// 64 KiB.
	big := `{` + creds + `,"OriginalSender":"A","Subject":"B","Padding":"` + strings.Repeat("p", 200<<10) + `"}`
	if s := post(ts.URL+"/api/connector/v1/messageThreads/getAll", page); s != 200 {
		t.Fatalf("a page: %d", s)
	}
	<-blocked.entered // the recorder is stuck writing that one
	const workers, each = 16, 25
	var wg sync.WaitGroup
	var maxInFlight int64
	var mu sync.Mutex
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				url, body, want := ts.URL+"/api/connector/v1/messageThreads/getAll", page, 200
				if (w+i)%5 == 0 {
					url, body, want = ts.URL+"/api/connector/v1/messageThreads/add", big, 200
				}
				if s := post(url, body); s != want {
					t.Errorf("status %d with the journal stuck, want %d", s, want)
				}
				mu.Lock()
				maxInFlight = max(maxInFlight, rec.inFlight.Load())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if maxInFlight > bound || rec.inFlight.Load() > bound {
		t.Errorf("%d bytes in flight at most, %d at the end; the bound is %d", maxInFlight, rec.inFlight.Load(), bound)
	}
	if len(rec.queue) > bound/journalResponseLimit {
		t.Errorf("%d entries queued within %d bytes", len(rec.queue), bound)
	}
	close(blocked.open)
	got := journalCount(t, h)
	if got.Dropped == 0 || got.Count == 0 || got.Count+got.Dropped != workers*each+1 {
		t.Errorf("recorded %d and dropped %d of %d requests, within %d bytes in flight", got.Count, got.Dropped, workers*each+1, bound)
	}
	if n := rec.inFlight.Load(); n != 0 {
		t.Errorf("%d bytes in flight once everything is written", n)
	}
	if err := closeFn(); err != nil {
		t.Error(err)
	}
}

// A string cut inside a character loses that character only; one of
// bytes that are not UTF-8 (a path of %80s) is cut at the limit, not
// backed off over to nothing.
func TestJournalCutsAtACharacter(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{strings.Repeat("a", 1023) + "€", 1023},
		{strings.Repeat("a", 1022) + "€", 1022},
		{strings.Repeat("a", 1021) + "€b", 1024},
		{strings.Repeat("a", 1020) + "𝄞b", 1024},
		{strings.Repeat("a", 1022) + "𝄞", 1022},
		{strings.Repeat("a", 1021) + "𝄞", 1021},
		{strings.Repeat("\x80", 2000), 1024},
	} {
		s, cut := queuedString(c.s, 1024)
		if !cut || len(s) != c.want {
			t.Errorf("queuedString of %d bytes ending %q: %d bytes (cut %v), want %d", len(c.s), c.s[len(c.s)-4:], len(s), cut, c.want)
		}
		b, cut := keepBody([]byte(c.s), 1024, false)
		if !cut || len(b) != c.want {
			t.Errorf("keepBody of %d bytes ending %q: %d bytes (cut %v), want %d", len(c.s), c.s[len(c.s)-4:], len(b), cut, c.want)
		}
	}
}

// discardJournal stores nothing, at once.
type discardJournal struct{ mews.Journal }

func (discardJournal) RequestsAdd(context.Context, []mews.Request, int) error { return nil }

// An entry is dropped only if it does not fit in the bytes in flight: one
// that cannot (larger than the bound) does not make the small entries
// offered meanwhile look over the bound, and the count never passes it.
func TestJournalDropsOnlyWhatDoesNotFit(t *testing.T) {
	const bound, n = 64 << 20, 20_000
	r := newRecorder(discardJournal{}, 100, 2*n, bound, slog.New(slog.DiscardHandler))
	defer r.stop()
	huge := strings.Repeat("x", bound)
	offer := func(op string) {
		p := pendingPool.Get().(*pending)
		p.entry.Operation = op
		p.ticket = r.accepted.Add(1)
		r.offer(p)
	}
	var wg sync.WaitGroup
	var over int64
	wg.Go(func() {
		for range n {
			offer(huge)
		}
	})
	wg.Go(func() {
		for range n {
			offer("messageThreads/getAll")
			if b := r.inFlight.Load(); b > bound {
				over = b
			}
		}
	})
	wg.Wait()
	if d := r.dropped.Load(); d != n || over != 0 {
		t.Errorf("%d entries dropped, want the %d larger than the bound alone; %d bytes in flight seen (bound %d)", d, n, over, bound)
	}
}

// journalCount asks h's admin API for requests/count of everything, which
// waits for what is queued, and returns its Count and Dropped.
func journalCount(t *testing.T, h http.Handler) (got struct{ Count, Dropped int }) {
	t.Helper()
	req := httptest.NewRequest("POST", "/_admin/v1/requests/count", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer admin")
	rec := httptest.NewRecorder()
	apitest.NewValidator(t).Handler(t, h).ServeHTTP(rec, req)
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("requests/count: %d %s", rec.Code, rec.Body)
	}
	return got
}
