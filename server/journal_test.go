package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// journalEngines runs f on each storage engine: SQLite in memory and in a
// file, and PostgreSQL when MEWSREF_TEST_POSTGRES is set.
func journalEngines(t *testing.T, f func(t *testing.T, store func(t *testing.T) mews.Store)) {
	t.Run("SQLiteMemory", func(t *testing.T) {
		f(t, func(t *testing.T) mews.Store { return openSQLite(t, sqlite.Memory) })
	})
	t.Run("SQLiteFile", func(t *testing.T) {
		f(t, func(t *testing.T) mews.Store { return openSQLite(t, filepath.Join(t.TempDir(), "mews.db")) })
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		f(t, func(t *testing.T) mews.Store {
			db, err := postgres.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

func openSQLite(t *testing.T, path string) mews.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// journalEntry is an entry of requests/getAll, as JSON.
type journalEntry = obj

func (e *env) journal(filter obj) []journalEntry {
	e.t.Helper()
	if filter == nil {
		filter = obj{}
	}
	filter["Limitation"] = obj{"Count": 1000}
	r := e.admin("requests/getAll", filter)
	e.wantStatus(r, 200)
	var out []journalEntry
	for _, x := range r.body["Requests"].([]any) {
		out = append(out, x.(obj))
	}
	return out
}

func (e *env) journalCount(filter obj) int {
	e.t.Helper()
	r := e.admin("requests/count", filter)
	e.wantStatus(r, 200)
	return int(r.body["Count"].(float64))
}

// allTokens are the full tokens a journal must never show.
func allTokens() []string {
	var out []string
	for _, in := range server.DemoIntegrations() {
		out = append(out, in.ClientToken)
		for _, at := range in.AccessTokens {
			out = append(out, at.Token)
		}
	}
	return out
}

func noFullTokens(t *testing.T, what string, raw []byte, extra ...string) {
	t.Helper()
	for _, tok := range append(allTokens(), extra...) {
		if strings.Contains(string(raw), tok) {
			t.Errorf("%s shows the full token %s: %s", what, server.MaskToken(tok), raw)
		}
	}
}

func TestJournalRecordsEveryRequestMasked(t *testing.T) {
	journalEngines(t, func(t *testing.T, store func(t *testing.T) mews.Store) {
		e := newEnv(t, server.Config{AdminToken: adminToken, Store: store(t)})
		th := e.addThread(demoClient, demoGross, "Late check-in")
		thread := th["Id"].(string)
		e.clock.Advance(1500 * time.Millisecond)
		add := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": thread, "Text": "Arriving at 23:00"})
		e.wantStatus(add, 200)
		narrowed := e.post(pathThreadsGetAll, demo("EnterpriseIds", []string{server.DemoGrossPricingEnterprise.String()},
			"MessageThreadIds", []string{thread}, "Limitation", obj{"Count": 10}))
		e.wantStatus(narrowed, 200)
		badJSON := e.post(pathMessagesAdd, `{"ClientToken": "`+demoClient+`", "AccessToken": "`+demoGross+`", `)
		e.wantStatus(badJSON, 400)
		schema := e.post(pathMessagesAdd, demo("Messages", []any{}))
		e.wantStatus(schema, 400)
		unknown := e.post(pathThreadsAdd, creds("not-a-client-token-at-all", demoGross, "OriginalSender", "A", "Subject", "B"))
		e.wantStatus(unknown, 401)
		// A property in another case is ignored by the API; the journal
		// still masks its value.
		cased := e.post(pathThreadsAdd, demo("OriginalSender", "A", "Subject", "B", "accesstoken", demoNet))
		e.wantStatus(cased, 200)
		nowhere := e.post("/api/connector/v1/nowhere/add", demo())
		e.wantStatus(nowhere, 404)
		e.wantStatus(e.admin("reset", obj{}), 200) // admin calls are not recorded
		e.wantStatus(e.post("/openapi.json", ""), 405)

		r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 100}})
		e.wantStatus(r, 200)
		noFullTokens(t, "requests/getAll", r.raw)
		list := r.body["Requests"].([]any)
		if len(list) != 8 {
			t.Fatalf("%d entries, want the 8 API requests: %s", len(list), r.raw)
		}
		byID := map[string]journalEntry{}
		var order []string
		for _, x := range list {
			en := x.(obj)
			byID[en["RequestId"].(string)] = en
			order = append(order, en["Operation"].(string))
		}
		if want := "nowhere/add messageThreads/add messageThreads/add messages/add messages/add messageThreads/getAll messages/add messageThreads/add"; strings.Join(order, " ") != want {
			t.Errorf("newest first: %s, want %s", strings.Join(order, " "), want)
		}

		got := byID[add.header.Get("Request-Id")]
		integration := server.IntegrationID(demoClient).String()
		for k, want := range map[string]any{
			"Method": "POST", "Operation": "messages/add", "Status": float64(200),
			"IntegrationId": integration, "IntegrationName": "Are you ready to integrate with Mews?",
			"AccessToken": "C66E…453D", "CreatedUtc": "2022-03-07T16:09:46Z", "Truncated": false, "Message": nil,
		} {
			if got[k] != want {
				t.Errorf("messages/add: %s = %v, want %v", k, got[k], want)
			}
		}
		if fmt.Sprint(got["EnterpriseIds"]) != fmt.Sprint([]any{server.DemoGrossPricingEnterprise.String()}) ||
			fmt.Sprint(got["MessageThreadIds"]) != fmt.Sprint([]any{thread}) {
			t.Errorf("messages/add: enterprises %v, threads %v", got["EnterpriseIds"], got["MessageThreadIds"])
		}
		if d, ok := got["DurationMs"].(float64); !ok || d <= 0 {
			t.Errorf("DurationMs %v", got["DurationMs"])
		}
		if body := got["RequestBody"].(string); !strings.Contains(body, `"ClientToken":"E0D4…9E1D"`) || !strings.Contains(body, "Arriving at 23:00") {
			t.Errorf("request body %s", body)
		}
		if got["ResponseBody"] != string(add.raw) {
			t.Errorf("response body %q, want what was answered %q", got["ResponseBody"], add.raw)
		}

		if created := byID[th["Id"].(string)]; created != nil {
			t.Errorf("a thread id taken for a request id: %v", created)
		}
		for _, en := range byID {
			if en["Operation"] == "messageThreads/add" && en["Status"] == float64(200) && en["RequestBody"] != nil &&
				!strings.Contains(en["RequestBody"].(string), "accesstoken") {
				if fmt.Sprint(en["MessageThreadIds"]) != fmt.Sprint([]any{thread}) {
					t.Errorf("messageThreads/add: threads %v, want the created %s", en["MessageThreadIds"], thread)
				}
			}
		}
		if n := byID[narrowed.header.Get("Request-Id")]; fmt.Sprint(n["EnterpriseIds"]) != fmt.Sprint([]any{server.DemoGrossPricingEnterprise.String()}) {
			t.Errorf("getAll narrowed by EnterpriseIds: %v", n["EnterpriseIds"])
		}

		for name, tc := range map[string]struct {
			r       response
			status  float64
			access  any
			message string
		}{
			"bad JSON":       {badJSON, 400, "C66E…453D", "Invalid JSON"},
			"schema":         {schema, 400, "C66E…453D", "Messages must contain"},
			"unknown client": {unknown, 401, "C66E…453D", "Invalid ClientToken"},
			"unknown path":   {nowhere, 404, nil, "No operation at POST /api/connector/v1/nowhere/add"},
		} {
			en := byID[tc.r.header.Get("Request-Id")]
			if en == nil {
				t.Errorf("%s: not recorded", name)
				continue
			}
			if en["Status"] != tc.status || en["AccessToken"] != tc.access || en["IntegrationId"] != nil ||
				!strings.HasPrefix(fmt.Sprint(en["Message"]), tc.message) || en["ResponseBody"] != string(tc.r.raw) {
				t.Errorf("%s: %v", name, en)
			}
		}
		if en := byID[cased.header.Get("Request-Id")]; !strings.Contains(fmt.Sprint(en["RequestBody"]), `"accesstoken":"4D6C…9ED5"`) {
			t.Errorf("the value of a property in another case is not masked: %v", en["RequestBody"])
		}
		if en := byID[nowhere.header.Get("Request-Id")]; en["RequestBody"] != nil {
			t.Errorf("the body of an unknown path was read: %v", en["RequestBody"])
		}
	})
}

func TestJournalRecordsFaultsAndRateLimits(t *testing.T) {
	faults, err := server.ParseFaults("messages/getAll:500=1")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{AdminToken: adminToken, Faults: faults, RateLimit: &server.RateLimit{Requests: 1, Window: time.Hour}})
	e.wantStatus(e.post(pathMessagesGetAll, demo("MessageThreadIds", []string{uuid.NewString()}, "Limitation", obj{"Count": 1})), 500)
	limited := e.post(pathMessagesGetAll, demo("MessageThreadIds", []string{uuid.NewString()}, "Limitation", obj{"Count": 1}))
	e.wantStatus(limited, 429)
	list := e.journal(nil)
	if len(list) != 2 {
		t.Fatalf("%d entries, want 2", len(list))
	}
	if list[0]["Status"] != float64(429) || list[0]["RequestId"] != limited.header.Get("Request-Id") ||
		list[1]["Status"] != float64(500) || !strings.HasPrefix(list[1]["Message"].(string), "Injected fault") {
		t.Errorf("entries %v", list)
	}
	for _, en := range list {
		if en["IntegrationName"] != "Are you ready to integrate with Mews?" {
			t.Errorf("refused after authentication, the integration is known: %v", en)
		}
	}
}

func TestJournalFilters(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	t1 := e.addThread(demoClient, demoGross, "one")["Id"].(string)
	e.clock.Advance(time.Minute)
	t2 := e.addThread(client2, client2Grs, "two")["Id"].(string)
	bad := e.addMessages(demoClient, demoNet, obj{"MessageThreadId": t1, "Text": "wrong enterprise"})
	e.wantStatus(bad, 400)

	for name, tc := range map[string]struct {
		filter obj
		want   int
	}{
		"all":              {obj{}, 3},
		"operations":       {obj{"Operations": []string{"messages/add"}}, 1},
		"integration":      {obj{"IntegrationIds": []string{server.IntegrationID(client2).String()}}, 1},
		"access token":     {obj{"AccessToken": demoNet}, 1},
		"unknown token":    {obj{"AccessToken": "nobody"}, 0},
		"statuses":         {obj{"Statuses": []int{200}}, 2},
		"request ids":      {obj{"RequestIds": []string{bad.header.Get("Request-Id")}}, 1},
		"threads":          {obj{"MessageThreadIds": []string{t1}}, 2},
		"created, seconds": {obj{"CreatedUtc": obj{"StartUtc": "2022-03-07T16:10:45Z", "EndUtc": "2022-03-07T16:10:45Z"}}, 2},
		"and":              {obj{"MessageThreadIds": []string{t1, t2}, "Statuses": []int{400}}, 1},
	} {
		if got := len(e.journal(tc.filter)); got != tc.want {
			t.Errorf("%s: %d entries, want %d", name, got, tc.want)
		}
		if got := e.journalCount(tc.filter); got != tc.want {
			t.Errorf("%s: count %d, want %d", name, got, tc.want)
		}
	}
	r := e.admin("requests/getAll", obj{"AccessToken": demoNet, "Limitation": obj{"Count": 1}})
	noFullTokens(t, "a page filtered by a token", r.raw)
	e.wantStatus(e.admin("requests/count", obj{"CreatedUtc": obj{"StartUtc": "2022-03-08T00:00:00Z", "EndUtc": "2022-03-07T00:00:00Z"}}), 400)
	e.wantStatus(e.admin("requests/count", obj{"Statuses": []int{99}}), 400)
}

// The journal shows the newest N, also after more requests than the
// SQLite engine lets wait for a prune (sqlite.pruneSlack: 32 for N = 3).
func TestJournalKeepsTheNewestN(t *testing.T) {
	journalEngines(t, func(t *testing.T, store func(t *testing.T) mews.Store) {
		e := newEnv(t, server.Config{AdminToken: adminToken, Journal: 3, Store: store(t)})
		var ids []string
		for i := range 80 {
			r := e.post(pathThreadsGetAll, demo("Limitation", obj{"Count": 1}, "UpdatedUtc",
				obj{"StartUtc": "2026-01-01T00:00:00Z", "EndUtc": "2026-01-02T00:00:00Z"}))
			ids = append(ids, r.header.Get("Request-Id"))
			if i%20 != 4 {
				continue
			}
			list := e.journal(nil)
			if len(list) != 3 || list[0]["RequestId"] != ids[i] || list[2]["RequestId"] != ids[i-2] {
				t.Fatalf("after %d requests, kept %d: %v, want the last three", i+1, len(list), list)
			}
			if n := e.journalCount(obj{}); n != 3 {
				t.Fatalf("after %d requests, counted %d", i+1, n)
			}
		}
	})
}

func TestJournalClear(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	e.addThread(demoClient, demoGross, "one")
	e.wantStatus(e.admin("requests/clear", obj{}), 200)
	if n := e.journalCount(obj{}); n != 0 {
		t.Errorf("%d entries after clear", n)
	}
	e.addThread(demoClient, demoGross, "two")
	if n := e.journalCount(obj{}); n != 1 {
		t.Errorf("%d entries after clear and one request", n)
	}
}

func TestJournalOff(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken, Journal: -1})
	e.addThread(demoClient, demoGross, "one")
	r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 1}})
	e.wantStatus(r, 404)
	if !strings.Contains(r.body["Message"].(string), "-journal 0") {
		t.Errorf("message %q", r.body["Message"])
	}
}

func TestJournalCursorUnknown(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	e.wantStatus(e.admin("requests/getAll", obj{"Limitation": obj{"Count": 1, "Cursor": uuid.NewString()}}), 400)
}

// A walk of the journal's pages while requests keep coming lists every
// entry that was there when it started exactly once.
func TestJournalPagesWhileTrafficGoesOn(t *testing.T) {
	journalEngines(t, func(t *testing.T, store func(t *testing.T) mews.Store) {
		e := newEnv(t, server.Config{AdminToken: adminToken, Store: store(t)})
		before := map[string]bool{}
		for range 40 {
			before[e.post(pathThreadsAdd, demo("OriginalSender", "A", "Subject", "B")).header.Get("Request-Id")] = true
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				e.clock.Advance(time.Millisecond)
				e.post(pathThreadsAdd, demo("OriginalSender", "A", "Subject", "B"))
			}
		}()
		seen := map[string]int{}
		var cursor any
		for {
			r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 7, "Cursor": cursor}})
			e.wantStatus(r, 200)
			page := r.body["Requests"].([]any)
			if len(page) == 0 {
				break
			}
			for _, x := range page {
				seen[x.(obj)["RequestId"].(string)]++
			}
			cursor = r.body["Cursor"]
		}
		cancel()
		wg.Wait()
		for id := range before {
			if seen[id] != 1 {
				t.Errorf("entry %s listed %d times", id, seen[id])
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("entry %s listed %d times", id, n)
			}
		}
	})
}

// A read of the journal waits for the entries of the answers given before
// it, not for requests still arriving: a client that sends its headers and
// then only part of its body must not hold up every read of the journal
// until its request times out. The request is held until the test ends
// (its connection closes then): a read that waits for it waits until its
// timeout, the test's wait deadline, and fails with its entry.
func TestJournalReadsDoNotWaitForRequestsStillArriving(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken, RequestTimeout: time.Until(testwait.Deadline(t))})
	e.addThread(demoClient, demoGross, "before")
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// With Expect: 100-continue, net/http answers 100 Continue when the
	// handler first reads the body: then the server has begun the request
	// (the middleware, which starts its journal entry, runs before
	// anything reads the body), and it waits for the rest of the body.
	if _, err := fmt.Fprint(conn, "POST /api/connector/v1/messages/add HTTP/1.1\r\nHost: mewsref\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(testwait.Deadline(t)); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || status != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("before the body, the server answered %q (%v), want 100 Continue", status, err)
	}
	if _, err := fmt.Fprint(conn, "{"); err != nil {
		t.Fatal(err)
	}
	r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 10}})
	e.wantStatus(r, 200)
	if n := len(r.body["Requests"].([]any)); n != 1 {
		t.Errorf("%d entries; want the one answered before the read", n)
	}
}

// Tokens in bodies that name them with escapes, or that are not well
// formed, are masked too: not one stored body shows a token but for its
// last characters.
func TestJournalMasksEscapedAndMalformedTokens(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	lastEscaped := func(tok string) string { // the same token to a decoder
		return tok[:len(tok)-1] + fmt.Sprintf(`\u%04x`, tok[len(tok)-1])
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{pathMessagesAdd, `{"Client\u0054oken":"` + demoClient + `","Access\u0054oken":"` + demoGross + `","Client":"x"}`, 400},
		{pathThreadsAdd, `{"Client\u0054oken":"` + lastEscaped(demoClient) + `","AccessToken":"` + lastEscaped(demoGross) +
			`","Client":"x","OriginalSender":"A","Subject":"B"}`, 200},
		{pathMessagesAdd, `{"ClientToken" "` + demoClient + `"}`, 400},
		{pathMessagesAdd, `{"AccessToken":["` + demoGross + `"]}`, 400},
		{pathMessagesAdd, `{"ClientToken":"` + demoClient, 400},
	} {
		e.wantStatus(e.post(c.path, c.body), c.status)
	}
	r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 10}})
	e.wantStatus(r, 200)
	if n := len(r.body["Requests"].([]any)); n != 5 {
		t.Fatalf("%d entries, want 5", n)
	}
	for _, tok := range allTokens() {
		if strings.Contains(string(r.raw), tok[:len(tok)-2]) {
			t.Errorf("the journal shows all of %s but its last 2 characters: %s", server.MaskToken(tok), r.raw)
		}
	}
}

// stalledJournal is a journal whose writes wait until released: the
// journal's store stalled (a disk or a database too slow).
type stalledJournal struct {
	mews.Journal
	release chan struct{}
}

func (j stalledJournal) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) error {
	<-j.release
	return j.Journal.RequestsAdd(ctx, entries, keep)
}

// A read of the journal waits for the entries queued before it; when they
// are not written within the request's budget it answers 408, an answer
// that openapi/admin.yaml lists (apitest validates it). The API request
// itself was answered at once.
func TestJournalReadPastTheRequestTimeoutIs408(t *testing.T) {
	store := openSQLite(t, sqlite.Memory)
	release := make(chan struct{})
	e := newEnv(t, server.Config{Store: store, AdminToken: adminToken, RequestTimeout: 300 * time.Millisecond,
		JournalStore: stalledJournal{Journal: store.(mews.Journal), release: release}})
	// Registered after newEnv's, so it runs before the server closes
	// (cleanups run last first), which waits for the stalled write.
	t.Cleanup(func() { close(release) })
	e.addThread(demoClient, demoGross, "queued")
	for op, body := range map[string]obj{"requests/getAll": {"Limitation": obj{"Count": 10}}, "requests/count": {}} {
		r := e.admin(op, body)
		e.wantStatus(r, 408)
		if r.body["Message"] == nil {
			t.Errorf("%s: 408 without a Message: %s", op, r.raw)
		}
	}
}

// A client may put a token in the path of an unknown address; the journal
// records the operation with the configured tokens in it masked, as the
// log does.
func TestJournalMasksTokensInAnUnknownPath(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	e.wantStatus(e.post("/api/connector/v1/"+demoGross+"/"+demoClient, obj{}), 404)
	r := e.admin("requests/getAll", obj{"Limitation": obj{"Count": 10}})
	e.wantStatus(r, 200)
	for _, tok := range []string{demoGross, demoClient} {
		if strings.Contains(string(r.raw), tok) {
			t.Errorf("the journal holds the full token %s: %s", tok, r.raw)
		}
	}
	list := r.body["Requests"].([]any)
	if len(list) != 1 {
		t.Fatalf("%d entries, want 1: %s", len(list), r.raw)
	}
	if op, want := list[0].(map[string]any)["Operation"], "C66E…453D/"+server.MaskToken(demoClient); op != want {
		t.Errorf("Operation %q, want %q", op, want)
	}
}

// An unknown path of most of a megabyte (here 600 KB), and the 404's Message that names
// it, are kept cut and marked Truncated, with their tokens masked, on each
// engine.
func TestJournalCutsAHugeUnknownPath(t *testing.T) {
	journalEngines(t, func(t *testing.T, store func(t *testing.T) mews.Store) {
		e := newEnv(t, server.Config{AdminToken: adminToken, Store: store(t)})
		path := "/api/connector/v1/" + demoGross + "/" + strings.Repeat("ž", 1000) + strings.Repeat("x", 600<<10) // 600 KB
		e.wantStatus(e.post(path, obj{}), 404)
		list := e.journal(obj{"Statuses": []int{404}})
		if len(list) != 1 {
			t.Fatalf("%d entries of the 404, want 1", len(list))
		}
		en := list[0]
		op, _ := en["Operation"].(string)
		msg, _ := en["Message"].(string)
		if en["Truncated"] != true || len(op) > 1<<10 || len(msg) > 4<<10 || !strings.HasPrefix(op, "C66E…453D/žž") {
			t.Errorf("Truncated %v, an Operation of %d bytes (%.20q…), a Message of %d bytes", en["Truncated"], len(op), op, len(msg))
		}
		if !utf8.ValidString(op) || !utf8.ValidString(msg) || strings.Contains(op+msg, demoGross) {
			t.Errorf("Operation %.40q…, Message %.80q…: cut inside a character, or the full token", op, msg)
		}
		// The entry of a normal request is not marked.
		e.wantStatus(e.post(pathThreadsAdd, demo("OriginalSender", "A", "Subject", "B")), 200)
		if en := e.journal(obj{"Statuses": []int{200}}); len(en) != 1 || en[0]["Truncated"] != false {
			t.Errorf("the entry of an add: %v", en)
		}
	})
}

// TestJournalKeepsRequestsOfAnyBytes: a request whose path or body is not
// valid UTF-8, or holds a NUL, is journaled like any other, on each
// engine. PostgreSQL's text holds neither, and its COPY of the batch
// failed: that entry and every other of its batch were dropped.
func TestJournalKeepsRequestsOfAnyBytes(t *testing.T) {
	journalEngines(t, func(t *testing.T, store func(t *testing.T) mews.Store) {
		e := newEnv(t, server.Config{AdminToken: adminToken, Store: store(t)})
		e.wantStatus(e.post("/api/connector/v1/x%FFy", obj{}), 404)
		e.wantStatus(e.post("/api/connector/v1/x%00y", obj{}), 404)
		e.wantStatus(e.post(pathThreadsAdd, "{\"Client\": \"\xff\x00\", "), 400)
		list := e.journal(obj{})
		if len(list) != 3 {
			t.Fatalf("%d entries of the 3 requests, want 3", len(list))
		}
		for _, en := range list {
			op, _ := en["Operation"].(string)
			msg, _ := en["Message"].(string)
			body, _ := en["RequestBody"].(string)
			if !utf8.ValidString(op+msg+body) || !strings.HasPrefix(op, "x") && op != strings.TrimPrefix(pathThreadsAdd, "/api/connector/v1/") {
				t.Errorf("Operation %q, Message %q, RequestBody %q", op, msg, body)
			}
		}
	})
}
