package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// brokenStore fails thread writes with an internal error whose text must
// never reach a client, and panics on message writes.
type brokenStore struct{ mews.Store }

const secretDetail = "open /var/lib/mewsref/secret.db: disk on fire"

func (brokenStore) MessageThreadsAdd(context.Context, mews.Thread) error {
	return errors.New(secretDetail)
}

func (brokenStore) MessagesAdd(context.Context, mews.Scope, []mews.Message) error {
	panic(secretDetail)
}

// syncBuffer is a log sink that the server writes from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInternalErrorsAreHiddenUnlessExposed(t *testing.T) {
	for _, expose := range []bool{false, true} {
		store, err := sqlite.Open(context.Background(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		logs := &syncBuffer{}
		e := newEnv(t, server.Config{
			Store: brokenStore{store}, ExposeInternalErrors: expose,
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		thread := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b"))
		msgs := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "Text": "hi"})
		for name, r := range map[string]response{"error": thread, "panic": msgs} {
			if r.status != 500 {
				t.Fatalf("%s: status %d %s", name, r.status, r.raw)
			}
			msg, _ := r.body["Message"].(string)
			if strings.Contains(msg, "disk on fire") || !strings.Contains(msg, "request id") {
				t.Errorf("%s: Message %q", name, msg)
			}
			shown := strings.Contains(string(r.raw), "disk on fire")
			if shown != expose {
				t.Errorf("%s with ExposeInternalErrors=%v: detail shown %v: %s", name, expose, shown, r.raw)
			}
			if !expose && r.body["Details"] != nil {
				t.Errorf("%s: Details %v, want null", name, r.body["Details"])
			}
			// The log has the detail, under the request id the client saw.
			rid := r.header.Get("Request-Id")
			if !strings.Contains(logs.String(), "request_id="+rid) || !strings.Contains(logs.String(), "disk on fire") {
				t.Errorf("%s: the log lacks the request id %s or the detail:\n%s", name, rid, logs)
			}
		}
	}
}

func TestLogsNeverHoldAFullToken(t *testing.T) {
	logs := &syncBuffer{}
	rl := server.RateLimit{Requests: 3, Window: 30e9}
	faults, err := server.ParseFaults("messages/getAll:500=0.5,429=0.3")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RateLimit: &rl, Faults: faults,
	})
	const strangerClient = "F00DF00DF00DF00DF00DF00DF00DF00D-F00DF00DF00DF00DF00DF00DF00DF00"
	const strangerAccess = "BEEFBEEFBEEFBEEFBEEFBEEFBEEFBEEF-BEEFBEEFBEEFBEEFBEEFBEEFBEEFBEE"
	th := e.addThread(demoClient, demoGross, "s")
	for range 4 {
		e.getThreads(demoGross)
		e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
		e.post(pathThreadsGetAll, creds(strangerClient, strangerAccess, "MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
		e.post(pathThreadsGetAll, creds(demoClient, strangerAccess, "MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
		e.post(pathThreadsGetAll, `{"ClientToken":"`+demoClient+`","AccessToken":"`+demoGross+`",`) // invalid JSON
		e.post(pathThreadsGetAll, creds(demoClient, demoGross, "Limitation", demoNet))              // schema violation
	}
	// Unknown addresses with tokens in them: 404, logged with the path.
	e.post("/api/connector/v1/"+demoGross, obj{})
	e.post("/api/connector/v1/messages/"+demoClient+"/"+demoNet, obj{})
	out := logs.String()
	if !strings.Contains(out, `"path":"/api/connector/v1/C66E…453D"`) {
		t.Errorf("want the unknown path logged with its token masked:\n%s", out)
	}
	if !strings.Contains(out, `"access_token":"C66E…453D"`) {
		t.Errorf("want the masked access token in the log:\n%s", out)
	}
	for _, tok := range []string{demoClient, demoGross, demoNet, strangerClient, strangerAccess} {
		if strings.Contains(out, tok) {
			t.Errorf("the log holds the full token %s:\n%s", tok, out)
		}
	}
}

// fill is prefix, then items separated by commas up to about n bytes in
// all, then suffix.
func fill(n int, prefix, item, suffix string) []byte {
	b := make([]byte, 0, n)
	b = append(b, prefix...)
	for i := 0; ; i++ {
		next := strings.ReplaceAll(item, "#", strconv.Itoa(i))
		if len(b)+1+len(next)+len(suffix) > n {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, next...)
	}
	return append(b, suffix...)
}

// long is prefix, c repeated, then suffix: n bytes in all.
func long(n int, prefix string, c byte, suffix string) []byte {
	b := append(make([]byte, 0, n), prefix...)
	for len(b)+len(suffix) < n {
		b = append(b, c)
	}
	return append(b, suffix...)
}

// Bodies up to the limit that break a rule per value, or nest deep, or
// hold long strings or numbers, or many members: each is answered without
// a 500 and with an answer of a few kilobytes, and costs the server a
// bounded allocation (runtime.MemStats.TotalAlloc around the request: the
// body itself is 8 MiB, reading it some 16 MiB more; the bounds leave room
// for -race, and are far below the gigabytes these bodies cost before:
// docs/BENCHMARKS.md, "Large invalid bodies"). The requests may take
// until the test's wait deadline, not the default 30 s: the work for a
// body is seconds of CPU under -race (8 MiB of unknown members: some 0.6 s
// without it, mostly the decoder's set of ~800k member names), which a
// loaded machine stretches past 30 s, and the answer was then a 408.
func TestLargeBodiesAreAnsweredSmallAndCheaply(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken, RequestTimeout: time.Until(testwait.Deadline(t))})
	const n = server.DefaultBodyLimit
	const credentials = `"ClientToken":"` + demoClient + `","AccessToken":"` + demoGross + `","Client":"Test 1.0"`
	thread := e.addThread(demoClient, demoGross, "s")["Id"].(string)
	const mib = 1 << 20
	for _, c := range []struct {
		name, path string
		body       []byte
		status     int
		maxAlloc   uint64
	}{
		{"nulls for messages", pathMessagesAdd, fill(n, `{`+credentials+`,"Messages":[`, `null`, `]}`), 400, 96 * mib},
		{"empty messages", pathMessagesAdd, fill(n, `{`+credentials+`,"Messages":[`, `{}`, `]}`), 400, 96 * mib},
		{"messages with a bad id", pathMessagesAdd, fill(n, `{`+credentials+`,"Messages":[`, `{"MessageThreadId":"#","Text":"t"}`, `]}`), 400, 96 * mib},
		{"too many messages", pathMessagesAdd, fill(n, `{`+credentials+`,"Messages":[`, `{"MessageThreadId":"`+thread+`","Text":"t"}`, `]}`), 400, 96 * mib},
		{"nulls for thread ids", pathThreadsGetAll, fill(n, `{`+credentials+`,"Limitation":{"Count":1},"MessageThreadIds":[`, `null`, `]}`), 400, 96 * mib},
		{"deep nesting", pathThreadsAdd, []byte(`{` + credentials + `,"OriginalSender":"a","Subject":"b","x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`), 200, 96 * mib},
		{"too deep", pathThreadsAdd, []byte(`{` + credentials + `,"OriginalSender":"a","Subject":"b","x":` + strings.Repeat(`{"a":`, n/6) + `}`), 400, 96 * mib},
		{"escapes", pathThreadsAdd, fill(n, `{`+credentials+`,"OriginalSender":"a","Subject":"b","x":"`, `\u0041\n`, `"}`), 200, 96 * mib},
		{"unknown members", pathThreadsAdd, fill(n, `{`+credentials+`,"OriginalSender":"a","Subject":"b",`, `"#":0`, `}`), 200, 160 * mib},
		{"a huge count", pathThreadsGetAll, long(n, `{`+credentials+`,"Limitation":{"Count":1`, '0', `}}`), 400, 96 * mib},
		{"admin: nulls for messages", "/_admin/v1/data/import", fill(n, `{"MessageThreads":[],"Messages":[`, `null`, `]}`), 400, 96 * mib},
		{"admin: empty messages", "/_admin/v1/data/import", fill(n, `{"MessageThreads":[],"Messages":[`, `{}`, `]}`), 400, 96 * mib},
		{"admin: empty messages, the last one invalid", "/_admin/v1/data/import", fill(n, `{"MessageThreads":[],"Messages":[`, `{"MessageThreadId":"`+thread+`","Text":"t","Sender":{"Discriminator":"Enterprise"},"CreatedUtc":"2026-11-20T18:05:00Z"}`, `,{}]}`), 400, 512 * mib},
		{"admin: unknown members", "/_admin/v1/clock/set", fill(n, `{`, `"#":0`, `}`), 413, 8 * mib},
		{"admin: unknown members at the operation's limit", "/_admin/v1/clock/set", fill(256<<10, `{`, `"#":0`, `}`), 400, 32 * mib},
		{"admin: deep nesting", "/_admin/v1/clock/set", []byte(`{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`), 400, 96 * mib},
		{"admin: deep nesting in an unknown member", "/_admin/v1/data/import", []byte(`{"MessageThreads":[],"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`), 200, 96 * mib},
		{"admin: a huge number", "/_admin/v1/clock/advance", long(n, `{"Seconds":1`, '0', `}`), 413, 8 * mib},
		{"admin: a huge number at the operation's limit", "/_admin/v1/clock/advance", long(256<<10, `{"Seconds":1`, '0', `}`), 400, 32 * mib},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.body) > n {
				t.Fatalf("the body has %d bytes, over the limit", len(c.body))
			}
			req, err := http.NewRequest(http.MethodPost, e.ts.URL+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adminToken)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, err := io.ReadAll(res.Body)
			res.Body.Close()
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %d %d bytes, %.1f MiB allocated", len(c.body), res.StatusCode, len(answer), float64(alloc)/mib)
			if res.StatusCode != c.status {
				t.Errorf("status %d, want %d: %.300s", res.StatusCode, c.status, answer)
			}
			if len(answer) > 16<<10 {
				t.Errorf("an answer of %d bytes: %.300s", len(answer), answer)
			}
			if alloc > c.maxAlloc {
				t.Errorf("%d MiB allocated, want at most %d", alloc/mib, c.maxAlloc/mib)
			}
		})
	}
}

// The admin API (kin-openapi) answers with the first reqrt.MaxViolations
// violations by path, from a body of up to 4,096 values; a larger body
// with the first violation that kin-openapi finds.
func TestAdminViolationsAreCapped(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	for _, c := range []struct {
		items   int
		details int
		first   string
	}{
		{150, 100, "Messages[0].CreatedUtc is required."},
		{5000, 1, "Messages[0].MessageThreadId is required."},
	} {
		r := e.admin("data/import", `{"MessageThreads":[],"Messages":[`+strings.TrimSuffix(strings.Repeat(`{},`, c.items), ",")+`]}`)
		e.wantStatus(r, 400)
		details, _ := r.body["Details"].([]any)
		if r.body["Message"] != c.first || len(details) != c.details {
			t.Errorf("%d items: Message %q and %d details, want %q and %d", c.items, r.body["Message"], len(details), c.first, c.details)
		}
	}
}

// A valid body of more than 4,096 values, which the admin API decodes an
// item at a time, is stored whole, the values as sent.
func TestAdminLargeValidImportIsStoredWhole(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	const thread = "8d02142f-31cf-4115-90bf-ae5200c7a1ba"
	var msgs []string
	for i := range 1000 {
		msgs = append(msgs, `{"MessageThreadId":"`+thread+`","Text":"Message `+strconv.Itoa(i)+`","Sender":{"Discriminator":"Enterprise"},"CreatedUtc":"2026-11-20T18:05:00Z"}`)
	}
	body := `{"IntegrationId":"` + demoIntegrationID(t, e) + `","EnterpriseId":"` + server.DemoGrossPricingEnterprise.String() +
		`","MessageThreads":[{"Id":"` + thread + `","OriginalSender":"Guest","Subject":"Many","CreatedUtc":"2026-11-20T18:00:00Z"}],"Messages":[` + strings.Join(msgs, ",") + `],"SendWebhooks":false}`
	r := e.admin("data/import", body)
	e.wantStatus(r, 200)
	if r.body["AddedMessageThreads"] != 1.0 || r.body["AddedMessages"] != 1000.0 {
		t.Fatalf("import: %s", r.raw)
	}
	r = e.admin("messages/getAll", obj{"MessageThreadId": thread, "Limitation": obj{"Count": 1}})
	e.wantStatus(r, 200)
	if m := r.body["Messages"].([]any)[0].(obj); m["Text"] != "Message 0" || m["Sender"].(obj)["Discriminator"] != "Enterprise" {
		t.Errorf("the newest message (the first listed) is %v", m)
	}
}

// abortingWriter aborts its request when the answer is written, as a
// handler does that panics with http.ErrAbortHandler (which recoverPanic
// lets through) after its answer has started.
type abortingWriter struct{ http.ResponseWriter }

func (w abortingWriter) Write(b []byte) (int, error) {
	w.ResponseWriter.Write(b[:len(b)/2])
	panic(http.ErrAbortHandler)
}

// A request that ends in a panic past recoverPanic, its answer begun (so
// holding a ticket of the journal), neither holds up the reads of the
// journal until their request budget (408) nor goes unrecorded.
func TestJournalReadsDoNotWaitForARequestThatPanicked(t *testing.T) {
	h, closeServer, err := server.New(server.Config{AdminToken: adminToken, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeServer(); err != nil {
			t.Error(err)
		}
	})
	aborting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Abort") != "" {
			w = abortingWriter{w}
		}
		h.ServeHTTP(w, r)
	})
	e := &env{t: t, ts: apitest.Server(t, aborting)}
	e.addThread(demoClient, demoGross, "before")
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+pathThreadsAdd, strings.NewReader(
		`{"ClientToken":"`+demoClient+`","AccessToken":"`+demoGross+`","Client":"Test 1.0","OriginalSender":"a","Subject":"aborted"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Abort", "1")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the aborted request was answered %d", res.StatusCode)
	}
	r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 10}})
	e.wantStatus(r, 200)
	if n := len(r.body["Requests"].([]any)); n != 2 {
		t.Errorf("%d entries; want the thread added before and the aborted request", n)
	}
}
