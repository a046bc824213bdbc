package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
)

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name  string
		url   string
		creds Credentials
		want  string
	}{
		{"empty URL", "", testCreds, "invalid base URL"},
		{"no scheme", "127.0.0.1:8080", testCreds, "invalid base URL"},
		{"ftp", "ftp://example.com", testCreds, "invalid base URL"},
		{"query", "http://example.com/?a=b", testCreds, "no query"},
		{"no ClientToken", "http://example.com", Credentials{AccessToken: "a", Client: "c"}, "ClientToken"},
		{"no AccessToken", "http://example.com", Credentials{ClientToken: "t", Client: "c"}, "AccessToken"},
		{"no Client", "http://example.com", Credentials{ClientToken: "t", AccessToken: "a"}, "Client is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.url, tc.creds)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%q) = %v, %v; want error containing %q", tc.url, c, err, tc.want)
			}
		})
	}
	if _, err := New("http://127.0.0.1:8080", testCreds); err != nil {
		t.Fatalf("New with valid input: %v", err)
	}
}

// checkEnvelope checks what every request must carry: POST, JSON and the
// three credentials in the body.
func checkEnvelope(t *testing.T, r recorded, path string) map[string]any {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != path {
		t.Errorf("request = %s %s, want POST %s", r.Method, r.Path, path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	body := r.decode(t)
	for k, want := range map[string]string{
		"ClientToken": testCreds.ClientToken,
		"AccessToken": testCreds.AccessToken,
		"Client":      testCreds.Client,
	} {
		if body[k] != want {
			t.Errorf("body %s = %v, want %q", k, body[k], want)
		}
	}
	return body
}

func TestAddThread(t *testing.T) {
	want := threadFixtures(1)[0]
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageThreadAddResult{MessageThreads: []gen.MessageThread{want}})
	})
	c, _ := newTestClient(t, s)

	got, err := c.AddThread(context.Background(), AddThreadRequest{OriginalSender: "John Doe", Subject: "Breakfast"})
	if err != nil {
		t.Fatalf("AddThread: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AddThread = %+v, want %+v", got, want)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	body := checkEnvelope(t, reqs[0], pathThreadsAdd)
	if body["OriginalSender"] != "John Doe" || body["Subject"] != "Breakfast" {
		t.Errorf("body = %v, want OriginalSender John Doe and Subject Breakfast", body)
	}
}

func TestAddThreadRejectsWrongCount(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageThreadAddResult{MessageThreads: threadFixtures(2)})
	})
	c, _ := newTestClient(t, s)
	if _, err := c.AddThread(context.Background(), AddThreadRequest{OriginalSender: "a", Subject: "b"}); err == nil {
		t.Fatal("AddThread with 2 threads in the answer: no error")
	}
}

func TestAddMessages(t *testing.T) {
	thread := id(1)
	label := "my-1"
	msgs := messageFixtures(thread, 2)
	want := []gen.AddedMessage{{Identifier: &label, Message: msgs[0]}, {Identifier: nil, Message: msgs[1]}}
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.AddedMessageResult{Messages: want})
	})
	c, _ := newTestClient(t, s)

	got, err := c.AddMessages(context.Background(), []gen.MessageParameters{
		{MessageThreadId: thread, Text: "Hello", Identifier: &label},
		{MessageThreadId: thread, Text: "Again"},
	})
	if err != nil {
		t.Fatalf("AddMessages: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AddMessages = %+v, want %+v", got, want)
	}
	body := checkEnvelope(t, s.requests()[0], pathMessagesAdd)
	sent, _ := json.Marshal(body["Messages"])
	wantSent := `[{"Identifier":"my-1","MessageThreadId":"` + thread.String() + `","Text":"Hello"},` +
		`{"MessageThreadId":"` + thread.String() + `","Text":"Again"}]`
	if string(sent) != wantSent {
		t.Errorf("Messages sent = %s\nwant %s", sent, wantSent)
	}
}

func TestGetThreadsSendsQuery(t *testing.T) {
	threads := threadFixtures(2)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageThreadResult{MessageThreads: threads, Cursor: &threads[1].Id})
	})
	c, _ := newTestClient(t, s)
	cursor := id(99)
	q := ThreadsQuery{
		EnterpriseIds:    []uuid.UUID{id(50)},
		MessageThreadIds: []uuid.UUID{id(1), id(2)},
		CreatedUtc:       &gen.TimeInterval{StartUtc: t0.Add(-time.Hour), EndUtc: t0},
		UpdatedUtc:       &gen.TimeInterval{StartUtc: t0.Add(-2 * time.Hour), EndUtc: t0},
		Count:            2,
		Cursor:           &cursor,
	}
	page, err := c.GetThreads(context.Background(), q)
	if err != nil {
		t.Fatalf("GetThreads: %v", err)
	}
	if !reflect.DeepEqual(page.Threads, threads) || page.Cursor == nil || *page.Cursor != threads[1].Id {
		t.Errorf("page = %+v, want the 2 threads and cursor %s", page, threads[1].Id)
	}

	body := checkEnvelope(t, s.requests()[0], pathThreadsGetAll)
	want := map[string]any{
		"EnterpriseIds":    []any{id(50).String()},
		"MessageThreadIds": []any{id(1).String(), id(2).String()},
		"CreatedUtc":       map[string]any{"StartUtc": "2024-03-07T15:09:45Z", "EndUtc": "2024-03-07T16:09:45Z"},
		"UpdatedUtc":       map[string]any{"StartUtc": "2024-03-07T14:09:45Z", "EndUtc": "2024-03-07T16:09:45Z"},
		"Limitation":       map[string]any{"Count": float64(2), "Cursor": cursor.String()},
	}
	for k, v := range want {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("body %s = %#v, want %#v", k, body[k], v)
		}
	}
}

func TestGetThreadsOmitsUnsetFiltersAndDefaultsCount(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageThreadResult{MessageThreads: []gen.MessageThread{}})
	})
	c, _ := newTestClient(t, s)
	if _, err := c.GetThreads(context.Background(), ThreadsQuery{MessageThreadIds: []uuid.UUID{id(1)}}); err != nil {
		t.Fatalf("GetThreads: %v", err)
	}
	body := s.requests()[0].decode(t)
	for _, k := range []string{"EnterpriseIds", "CreatedUtc", "UpdatedUtc"} {
		if v, ok := body[k]; ok {
			t.Errorf("body has %s = %v, want it absent", k, v)
		}
	}
	if lim := body["Limitation"]; !reflect.DeepEqual(lim, map[string]any{"Count": float64(DefaultCount)}) {
		t.Errorf("Limitation = %v, want Count %d and no Cursor", lim, DefaultCount)
	}
}

func TestGetMessagesSendsQuery(t *testing.T) {
	thread := id(7)
	msgs := messageFixtures(thread, 3)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageResult{Messages: msgs, Cursor: &msgs[2].Id})
	})
	c, _ := newTestClient(t, s)
	page, err := c.GetMessages(context.Background(), MessagesQuery{
		MessageThreadIds: []uuid.UUID{thread},
		CreatedUtc:       &gen.TimeInterval{StartUtc: t0.Add(-time.Hour), EndUtc: t0},
		Count:            3,
	})
	if err != nil {
		t.Fatalf("GetMessages: %v", err)
	}
	if !reflect.DeepEqual(page.Messages, msgs) || page.Cursor == nil || *page.Cursor != msgs[2].Id {
		t.Errorf("page = %+v, want the 3 messages and cursor %s", page, msgs[2].Id)
	}
	body := checkEnvelope(t, s.requests()[0], pathMessagesGetAll)
	if !reflect.DeepEqual(body["MessageThreadIds"], []any{thread.String()}) {
		t.Errorf("MessageThreadIds = %v", body["MessageThreadIds"])
	}
	if !reflect.DeepEqual(body["CreatedUtc"], map[string]any{"StartUtc": "2024-03-07T15:09:45Z", "EndUtc": "2024-03-07T16:09:45Z"}) {
		t.Errorf("CreatedUtc = %v", body["CreatedUtc"])
	}
	if _, ok := body["EnterpriseIds"]; ok {
		t.Errorf("EnterpriseIds sent though unset")
	}
	if !reflect.DeepEqual(body["Limitation"], map[string]any{"Count": float64(3)}) {
		t.Errorf("Limitation = %v", body["Limitation"])
	}
}

func TestNoContentIsAnEmptyPage(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		w.Header().Set("Request-Id", "r-204")
		w.WriteHeader(http.StatusNoContent)
	})
	c, sl := newTestClient(t, s)
	ctx := context.Background()

	tp, err := c.GetThreads(ctx, ThreadsQuery{MessageThreadIds: []uuid.UUID{id(1)}})
	if err != nil || len(tp.Threads) != 0 || tp.Cursor != nil {
		t.Errorf("GetThreads on 204 = %+v, %v; want an empty page", tp, err)
	}
	mp, err := c.GetMessages(ctx, MessagesQuery{MessageThreadIds: []uuid.UUID{id(1)}})
	if err != nil || len(mp.Messages) != 0 || mp.Cursor != nil {
		t.Errorf("GetMessages on 204 = %+v, %v; want an empty page", mp, err)
	}
	n := 0
	for _, err := range c.AllMessages(ctx, MessagesQuery{MessageThreadIds: []uuid.UUID{id(1)}}) {
		n++
		if err != nil {
			t.Errorf("AllMessages on 204: %v", err)
		}
	}
	if n != 0 {
		t.Errorf("AllMessages on 204 yielded %d times, want 0", n)
	}
	if got := len(s.requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	if w := sl.recorded(); len(w) != 0 {
		t.Errorf("waited %v, want no retry", w)
	}
}

func TestAddOn204IsAnError(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		w.WriteHeader(http.StatusNoContent)
	})
	c, _ := newTestClient(t, s)
	if _, err := c.AddMessages(context.Background(), []gen.MessageParameters{{MessageThreadId: id(1), Text: "x"}}); err == nil {
		t.Fatal("AddMessages on 204: no error")
	}
}

func TestAllThreadsVisitsEveryPage(t *testing.T) {
	for _, tc := range []struct {
		total, count, wantRequests int
	}{
		{total: 7, count: 3, wantRequests: 3}, // 3, 3, 1 (short page ends it)
		{total: 6, count: 3, wantRequests: 3}, // 3, 3, 0 (empty page ends it)
		{total: 0, count: 3, wantRequests: 1},
		{total: 5, count: 10, wantRequests: 1},
	} {
		all := threadFixtures(tc.total)
		s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
			page, cursor := pageOf(t, all, func(x gen.MessageThread) uuid.UUID { return x.Id }, body)
			writeJSON(w, 200, gen.MessageThreadResult{MessageThreads: page, Cursor: cursor})
		})
		c, _ := newTestClient(t, s)

		var got []gen.MessageThread
		for th, err := range c.AllThreads(context.Background(), ThreadsQuery{UpdatedUtc: &gen.TimeInterval{}, Count: tc.count}) {
			if err != nil {
				t.Fatalf("AllThreads(total %d, count %d): %v", tc.total, tc.count, err)
			}
			got = append(got, th)
		}
		if len(got) != len(all) || (len(all) > 0 && !reflect.DeepEqual(got, all)) {
			t.Errorf("total %d, count %d: got %d threads, want all %d in order", tc.total, tc.count, len(got), len(all))
		}
		reqs := s.requests()
		if len(reqs) != tc.wantRequests {
			t.Errorf("total %d, count %d: %d requests, want %d", tc.total, tc.count, len(reqs), tc.wantRequests)
		}
		// The cursors sent are nil, then the oldest id of each page.
		for i, r := range reqs {
			lim := r.decode(t)["Limitation"].(map[string]any)
			if i == 0 {
				if _, ok := lim["Cursor"]; ok {
					t.Errorf("first request has a Cursor: %v", lim)
				}
				continue
			}
			if want := all[i*tc.count-1].Id.String(); lim["Cursor"] != want {
				t.Errorf("request %d Cursor = %v, want %s", i, lim["Cursor"], want)
			}
		}
	}
}

func TestAllMessagesVisitsEveryPageFromCursor(t *testing.T) {
	thread := id(1)
	all := messageFixtures(thread, 10)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		page, cursor := pageOf(t, all, func(x gen.Message) uuid.UUID { return x.Id }, body)
		writeJSON(w, 200, gen.MessageResult{Messages: page, Cursor: cursor})
	})
	c, _ := newTestClient(t, s)
	start := all[1].Id // resume after the second newest
	seq := c.AllMessages(context.Background(), MessagesQuery{MessageThreadIds: []uuid.UUID{thread}, Count: 4, Cursor: &start})

	// Ranging twice over the same iterator starts again at the cursor.
	for run := range 2 {
		var got []gen.Message
		for m, err := range seq {
			if err != nil {
				t.Fatalf("AllMessages: %v", err)
			}
			got = append(got, m)
		}
		if !reflect.DeepEqual(got, all[2:]) {
			t.Errorf("run %d: got %d messages, want the 8 after the cursor in order", run, len(got))
		}
	}
	if got := len(s.requests()); got != 6 { // 4, 4, 0 per run
		t.Errorf("%d requests, want 6", got)
	}
}

func TestAllThreadsStopsOnBreak(t *testing.T) {
	all := threadFixtures(20)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		page, cursor := pageOf(t, all, func(x gen.MessageThread) uuid.UUID { return x.Id }, body)
		writeJSON(w, 200, gen.MessageThreadResult{MessageThreads: page, Cursor: cursor})
	})
	c, _ := newTestClient(t, s)
	seen := 0
	for _, err := range c.AllThreads(context.Background(), ThreadsQuery{CreatedUtc: &gen.TimeInterval{}, Count: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
		if seen == 4 {
			break
		}
	}
	if seen != 4 {
		t.Errorf("seen %d threads, want 4", seen)
	}
	if got := len(s.requests()); got != 2 {
		t.Errorf("%d requests after breaking in the second page, want 2", got)
	}
}

func TestAllMessagesYieldsErrorOnceAndStops(t *testing.T) {
	thread := id(1)
	all := messageFixtures(thread, 10)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		if n == 1 {
			writeAPIError(w, 400, "Limitation.Cursor is invalid.", "req-400")
			return
		}
		page, cursor := pageOf(t, all, func(x gen.Message) uuid.UUID { return x.Id }, body)
		writeJSON(w, 200, gen.MessageResult{Messages: page, Cursor: cursor})
	})
	c, _ := newTestClient(t, s)
	var items, errs int
	var last error
	for m, err := range c.AllMessages(context.Background(), MessagesQuery{MessageThreadIds: []uuid.UUID{thread}, Count: 4}) {
		if err != nil {
			errs++
			last = err
			if m.Id != uuid.Nil {
				t.Errorf("error yielded with a non-zero message %+v", m)
			}
			continue
		}
		items++
	}
	if items != 4 || errs != 1 {
		t.Errorf("yielded %d messages and %d errors, want 4 and 1", items, errs)
	}
	var apiErr *Error
	if !errors.As(last, &apiErr) || apiErr.StatusCode != 400 || apiErr.RequestId != "req-400" {
		t.Errorf("error = %v, want *Error 400 with request req-400", last)
	}
	if got := len(s.requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestAllThreadsStopsOnRepeatedCursor(t *testing.T) {
	page := threadFixtures(2)
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageThreadResult{MessageThreads: page, Cursor: &page[1].Id})
	})
	c, _ := newTestClient(t, s)
	var errs int
	for _, err := range c.AllThreads(context.Background(), ThreadsQuery{CreatedUtc: &gen.TimeInterval{}, Count: 2}) {
		if err != nil {
			errs++
		}
	}
	if errs != 1 || len(s.requests()) != 2 {
		t.Errorf("errors %d, requests %d; want 1 error after 2 requests", errs, len(s.requests()))
	}
}

func TestErrorFields(t *testing.T) {
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   Error
		text   string
	}{
		{
			name: "API error body",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Request-Id", "0d4c0f4e-1c5d-4d43-a1c8-3b5f0e0bd7a1")
				writeJSON(w, 400, map[string]any{
					"Message":   "Limitation.Count must be between 1 and 1000.",
					"RequestId": "0d4c0f4e-1c5d-4d43-a1c8-3b5f0e0bd7a1",
					"Details":   map[string]any{"Property": "Limitation.Count"},
				})
			},
			want: Error{StatusCode: 400, Message: "Limitation.Count must be between 1 and 1000.",
				RequestId: "0d4c0f4e-1c5d-4d43-a1c8-3b5f0e0bd7a1", Details: map[string]any{"Property": "Limitation.Count"}},
			text: "mews: 400 Limitation.Count must be between 1 and 1000. (request 0d4c0f4e-1c5d-4d43-a1c8-3b5f0e0bd7a1)",
		},
		{
			name: "RequestId null in body falls back to header",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Request-Id", "from-header")
				writeJSON(w, 401, map[string]any{"Message": "Invalid AccessToken.", "RequestId": nil, "Details": nil})
			},
			want: Error{StatusCode: 401, Message: "Invalid AccessToken.", RequestId: "from-header"},
			text: "mews: 401 Invalid AccessToken. (request from-header)",
		},
		{
			name: "RequestId of the body wins over the header",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Request-Id", "from-header")
				writeJSON(w, 403, map[string]any{"Message": "Thread is closed.", "RequestId": "from-body", "Details": []any{"x"}})
			},
			want: Error{StatusCode: 403, Message: "Thread is closed.", RequestId: "from-body", Details: []any{"x"}},
			text: "mews: 403 Thread is closed. (request from-body)",
		},
		{
			name: "non-JSON body",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html>\n  Bad   gateway\n</html>"))
			},
			want: Error{StatusCode: 502, Message: "<html> Bad gateway </html>"},
			text: "mews: 502 <html> Bad gateway </html>",
		},
		{
			name: "truncated JSON body",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Request-Id", "r-500")
				w.WriteHeader(500)
				_, _ = w.Write([]byte(`{"Message": "bo`))
			},
			want: Error{StatusCode: 500, Message: `{"Message": "bo`, RequestId: "r-500"},
			text: `mews: 500 {"Message": "bo (request r-500)`,
		},
		{
			name:   "empty body",
			answer: func(w http.ResponseWriter) { w.WriteHeader(404) },
			want:   Error{StatusCode: 404, Message: "Not Found"},
			text:   "mews: 404 Not Found",
		},
		{
			name: "429 with Retry-After, not retried",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "12")
				writeAPIError(w, 429, "Too many requests.", "r-429")
			},
			want: Error{StatusCode: 429, Message: "Too many requests.", RequestId: "r-429", RetryAfter: 12 * time.Second},
			text: "mews: 429 Too many requests. (request r-429)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { tc.answer(w) })
			c, _ := newTestClient(t, s, WithoutRetries())
			_, err := c.GetThreads(context.Background(), ThreadsQuery{CreatedUtc: &gen.TimeInterval{}})
			var apiErr *Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if !reflect.DeepEqual(*apiErr, tc.want) {
				t.Errorf("Error = %#v\nwant %#v", *apiErr, tc.want)
			}
			if err.Error() != tc.text {
				t.Errorf("Error() = %q\nwant %q", err.Error(), tc.text)
			}
		})
	}
}

func TestInvalidSuccessBodyIsNotAnAPIError(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"MessageThreads": [`))
	})
	c, _ := newTestClient(t, s)
	_, err := c.GetThreads(context.Background(), ThreadsQuery{CreatedUtc: &gen.TimeInterval{}})
	var apiErr *Error
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v; want a decoding error that is not an *Error", err)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests, want 1 (a bad 200 is not retried)", got)
	}
}

func TestBaseURLWithPathPrefix(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(w, 200, gen.MessageThreadAddResult{MessageThreads: threadFixtures(1)})
	})
	c, err := New(s.srv.URL+"/mews/", testCreds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddThread(context.Background(), AddThreadRequest{OriginalSender: "a", Subject: "b"}); err != nil {
		t.Fatal(err)
	}
	if p := s.requests()[0].Path; p != "/mews"+pathThreadsAdd {
		t.Errorf("path = %s, want /mews%s", p, pathThreadsAdd)
	}
}
