package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/sqlite"
)

func TestMaskTokenProperties(t *testing.T) {
	for _, tc := range []struct{ in, want, access string }{
		{`{"ClientToken":"0123456789abcdef","AccessToken":"fedcba9876543210x","Text":"token"}`,
			`{"ClientToken":"01…ef","AccessToken":"fe…0x","Text":"token"}`, "fedcba9876543210x"},
		{`{ "clienttoken" : "0123456789abcdef" , "MyTOKENs": "abc"}`, `{ "clienttoken" : "01…ef" , "MyTOKENs": "****"}`, ""},
		{`{"AccessToken":"with \" quote 0123"}`, `{"AccessToken":"****"}`, ""},
		{`{"AccessToken":12, "Text":"AccessToken"}`, `{"AccessToken":12, "Text":"AccessToken"}`, ""},
		{`{"AccessToken":"0123456789abcdef`, `{"AccessToken":"0123456789abcdef`, ""}, // cut: nothing to mask safely
		{`not json "AccessToken": "0123456789abcdef" tail`, `not json "AccessToken": "01…ef" tail`, "0123456789abcdef"},
		{`{"Text":"ClientToken \u0022"}`, `{"Text":"ClientToken \u0022"}`, ""},
	} {
		got, access := maskTokenProperties([]byte(tc.in))
		if string(got) != tc.want || access != tc.access {
			t.Errorf("mask %s\n got %s (access %q)\nwant %s (access %q)", tc.in, got, access, tc.want, tc.access)
		}
	}
}

func TestKeepBodyCutsAtARuneBoundary(t *testing.T) {
	b := []byte(strings.Repeat("a", journalResponseLimit-1) + "é" + "tail")
	got, cut := keepBody(b, journalResponseLimit)
	if !cut || len(*got) != journalResponseLimit-1 {
		t.Errorf("cut %v, kept %d bytes, want %d", cut, len(*got), journalResponseLimit-1)
	}
	if got, cut := keepBody([]byte("short"), journalResponseLimit); cut || *got != "short" {
		t.Errorf("short body: %q %v", *got, cut)
	}
}

// blockedJournal is a journal whose writes wait until it is opened.
type blockedJournal struct {
	mews.Journal
	open chan struct{}
}

func (b *blockedJournal) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) error {
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
	blocked := &blockedJournal{Journal: db, open: make(chan struct{})}
	h, closeFn, err := New(Config{Store: db, JournalStore: blocked, journalQueue: 4, AdminToken: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
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
		})
	}
	wg.Wait()
	close(blocked.open)
	// requests/count waits for what is queued, then says what was dropped.
	req := httptest.NewRequest("POST", "/_admin/v1/requests/count", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer admin")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var got struct{ Count, Dropped int }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("requests/count: %d %s", rec.Code, rec.Body)
	}
	if got.Dropped == 0 || got.Count == 0 || got.Count+got.Dropped != n {
		t.Errorf("recorded %d and dropped %d of %d requests, with a queue of 4", got.Count, got.Dropped, n)
	}
	if err := closeFn(); err != nil {
		t.Error(err)
	}
}
