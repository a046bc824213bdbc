package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

const (
	demoClient = "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D"
	demoGross  = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
	demoNet    = "4D6C7ABE0E6A4681B0AFB16900AE5D86-DF50CBC89E1D4FF5859DDF021649ED5"
	client2    = "E916C341431C4D28A866AD200152DBD3-A046EB5583FFBE94DE1172237763712"
	client2Grs = "CC150C355D6A4048A220AD20015483AB-B6D09C0C84B09538077CB8FFBB907B4"

	pathThreadsGetAll  = "/api/connector/v1/messageThreads/getAll"
	pathThreadsAdd     = "/api/connector/v1/messageThreads/add"
	pathMessagesGetAll = "/api/connector/v1/messages/getAll"
	pathMessagesAdd    = "/api/connector/v1/messages/add"
)

// fakeClock is a settable clock for deterministic timestamps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	t     *testing.T
	ts    *httptest.Server
	clock *fakeClock
}

func newEnv(t *testing.T, cfg server.Config) *env {
	t.Helper()
	clock := &fakeClock{now: time.Date(2022, 3, 7, 16, 9, 45, 0, time.UTC)}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	h, closeFn, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	})
	return &env{t: t, ts: apitest.Server(t, h), clock: clock}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// post sends body (a string is sent verbatim, anything else as JSON).
func (e *env) post(path string, body any, headers ...string) response {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode, header: res.Header}
	out.raw, _ = io.ReadAll(res.Body)
	if len(out.raw) > 0 {
		if err := json.Unmarshal(out.raw, &out.body); err != nil {
			e.t.Fatalf("response is not a JSON object: %v: %s", err, out.raw)
		}
	}
	return out
}

type obj = map[string]any

func creds(client, access string, kv ...any) obj {
	o := obj{"ClientToken": client, "AccessToken": access, "Client": "Test 1.0"}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	return o
}

func demo(kv ...any) obj { return creds(demoClient, demoGross, kv...) }

func (e *env) addThread(client, access, subject string) obj {
	e.t.Helper()
	r := e.post(pathThreadsAdd, creds(client, access, "OriginalSender", "John Doe", "Subject", subject))
	if r.status != 200 {
		e.t.Fatalf("add thread: %d %s", r.status, r.raw)
	}
	return r.body["MessageThreads"].([]any)[0].(obj)
}

func (e *env) addMessages(client, access string, items ...obj) response {
	e.t.Helper()
	list := make([]any, len(items))
	for i, it := range items {
		list[i] = it
	}
	return e.post(pathMessagesAdd, creds(client, access, "Messages", list))
}

func limitation(count int, cursor any) obj { return obj{"Count": count, "Cursor": cursor} }

func TestReferenceAddThreadExample(t *testing.T) {
	e := newEnv(t, server.Config{})
	r := e.post(pathThreadsAdd, `{
		"ClientToken": "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		"AccessToken": "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
		"Client": "Sample Client 1.0.0",
		"OriginalSender": "John Doe",
		"Subject": "Example subject"
	}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	th := r.body["MessageThreads"].([]any)[0].(obj)
	want := obj{"OriginalSender": "John Doe", "Subject": "Example subject",
		"CreatedUtc": "2022-03-07T16:09:45Z", "UpdatedUtc": "2022-03-07T16:09:45Z", "IsResolved": false}
	for k, v := range want {
		if th[k] != v {
			t.Errorf("%s = %v, want %v", k, th[k], v)
		}
	}
	if _, err := uuid.Parse(th["Id"].(string)); err != nil {
		t.Errorf("Id %v: %v", th["Id"], err)
	}
	if r.header.Get("Request-Id") == "" {
		t.Error("no Request-Id header")
	}
}

func TestReferenceGetAllExampleNamesTheUnknownCursor(t *testing.T) {
	e := newEnv(t, server.Config{})
	// The reference's example asks for both demo enterprises with a token of
	// one of them, and pages from a cursor that does not exist here.
	r := e.post(pathThreadsGetAll, demo(
		"EnterpriseIds", []string{"3fa85f64-5717-4562-b3fc-2c963f66afa6", "4d0201db-36f5-428b-8d11-4f0a65e960cc"},
		"CreatedUtc", obj{"StartUtc": "2022-03-03T00:00:00Z", "EndUtc": "2022-03-14T00:00:00Z"},
		"Limitation", limitation(10, "e7f26210-10e7-462e-9da8-ae8300be8ab7")))
	if r.status != 401 || !strings.Contains(r.body["Message"].(string), "EnterpriseIds[1]") {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	r = e.post(pathThreadsGetAll, demo(
		"CreatedUtc", obj{"StartUtc": "2022-03-03T00:00:00Z", "EndUtc": "2022-03-14T00:00:00Z"},
		"Limitation", limitation(10, "e7f26210-10e7-462e-9da8-ae8300be8ab7")))
	if r.status != 400 || !strings.HasPrefix(r.body["Message"].(string), "Invalid Limitation.Cursor") {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
}

func TestErrorBodyCarriesRequestID(t *testing.T) {
	e := newEnv(t, server.Config{})
	r := e.post(pathThreadsAdd, `{`)
	if r.status != 400 {
		t.Fatalf("status %d", r.status)
	}
	if r.body["RequestId"] != r.header.Get("Request-Id") || r.header.Get("Request-Id") == "" {
		t.Errorf("RequestId %v, header %q", r.body["RequestId"], r.header.Get("Request-Id"))
	}
	if _, ok := r.body["Details"]; !ok {
		t.Error("Details missing from the error body")
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	e := newEnv(t, server.Config{})
	seen := map[string]bool{}
	for range 20 {
		r := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b"))
		id := r.header.Get("Request-Id")
		if id == "" || seen[id] {
			t.Fatalf("Request-Id %q empty or repeated", id)
		}
		seen[id] = true
	}
}

func TestBadInput(t *testing.T) {
	validThread := uuid.NewString()
	long := strings.Repeat("x", 2000)
	tests := []struct {
		name    string
		path    string
		body    any
		status  int
		message string // exact, or prefix when it ends with "…"
	}{
		{"truncated JSON", pathThreadsAdd, `{"ClientToken": "a"`, 400, "Invalid JSON"},
		{"trailing comma", pathThreadsAdd, `{"ClientToken": "a",}`, 400, "Invalid JSON"},
		{"comment", pathThreadsAdd, `{/* c */ "ClientToken": "a"}`, 400, "Invalid JSON"},
		{"two values", pathThreadsAdd, `{} {}`, 400, "Invalid JSON"},
		{"empty body", pathThreadsAdd, ``, 400, "Invalid JSON"},
		{"array body", pathThreadsAdd, `[]`, 400, "The request body must be an object."},
		{"missing ClientToken", pathThreadsAdd, obj{"AccessToken": demoGross, "Client": "c", "OriginalSender": "a", "Subject": "b"}, 400, "ClientToken is required."},
		{"empty Subject", pathThreadsAdd, demo("OriginalSender", "a", "Subject", ""), 400, "Subject must not be empty."},
		{"Subject not a string", pathThreadsAdd, demo("OriginalSender", "a", "Subject", 5), 400, "Subject must be a string."},
		{"null OriginalSender", pathThreadsAdd, demo("OriginalSender", nil, "Subject", "s"), 400, "OriginalSender must not be null."},
		{"unknown ClientToken", pathThreadsAdd, creds("nope", demoGross, "OriginalSender", "a", "Subject", "b"), 401, "Invalid ClientToken."},
		{"AccessToken of another client", pathThreadsAdd, creds(demoClient, client2Grs, "OriginalSender", "a", "Subject", "b"), 401, "Invalid AccessToken: it is not an access token of this ClientToken."},
		{"Count zero", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", obj{"Count": 0}), 400, "Limitation.Count must be between 1 and 1000."},
		{"Count too big", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", obj{"Count": 1001}), 400, "Limitation.Count must be between 1 and 1000."},
		{"Count fractional", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", obj{"Count": 1.5}), 400, "Limitation.Count must be an integer."},
		{"Count missing", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", obj{}), 400, "Limitation.Count is required."},
		{"Limitation missing", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}), 400, "Limitation is required."},
		{"Cursor not a UUID", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", limitation(1, "abc")), 400, "Limitation.Cursor must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6."},
		{"Cursor UUID without dashes", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", limitation(1, strings.ReplaceAll(validThread, "-", ""))), 400, "Limitation.Cursor must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6."},
		{"unknown Cursor", pathThreadsGetAll, demo("MessageThreadIds", []string{validThread}, "Limitation", limitation(1, validThread)), 400, "Invalid Limitation.Cursor…"},
		{"thread id not a UUID", pathThreadsGetAll, demo("MessageThreadIds", []string{"x"}, "Limitation", limitation(1, nil)), 400, "MessageThreadIds[0] must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6."},
		{"empty MessageThreadIds", pathThreadsGetAll, demo("MessageThreadIds", []string{}, "Limitation", limitation(1, nil)), 400, "MessageThreadIds must contain between 1 and 1000 items."},
		{"1001 MessageThreadIds", pathThreadsGetAll, demo("MessageThreadIds", manyIDs(1001), "Limitation", limitation(1, nil)), 400, "MessageThreadIds must contain between 1 and 1000 items."},
		{"no filter", pathThreadsGetAll, demo("Limitation", limitation(10, nil)), 400, "At least one of MessageThreadIds, CreatedUtc, UpdatedUtc is required."},
		{"null filters are no filters", pathThreadsGetAll, demo("MessageThreadIds", nil, "CreatedUtc", nil, "UpdatedUtc", nil, "Limitation", limitation(10, nil)), 400, "At least one of MessageThreadIds, CreatedUtc, UpdatedUtc is required."},
		{"date without time", pathThreadsGetAll, demo("CreatedUtc", obj{"StartUtc": "2022-03-03", "EndUtc": "2022-03-04T00:00:00Z"}, "Limitation", limitation(1, nil)), 400, "CreatedUtc.StartUtc must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z."},
		{"date-time without zone", pathThreadsGetAll, demo("CreatedUtc", obj{"StartUtc": "2022-03-03T00:00:00", "EndUtc": "2022-03-04T00:00:00Z"}, "Limitation", limitation(1, nil)), 400, "CreatedUtc.StartUtc must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z."},
		{"impossible date", pathThreadsGetAll, demo("CreatedUtc", obj{"StartUtc": "2022-02-30T00:00:00Z", "EndUtc": "2022-03-04T00:00:00Z"}, "Limitation", limitation(1, nil)), 400, "CreatedUtc.StartUtc must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z."},
		{"EndUtc missing", pathThreadsGetAll, demo("UpdatedUtc", obj{"StartUtc": "2022-03-03T00:00:00Z"}, "Limitation", limitation(1, nil)), 400, "UpdatedUtc.EndUtc is required."},
		{"start after end", pathThreadsGetAll, demo("CreatedUtc", obj{"StartUtc": "2022-03-05T00:00:00Z", "EndUtc": "2022-03-04T00:00:00Z"}, "Limitation", limitation(1, nil)), 400, "CreatedUtc.StartUtc must not be after CreatedUtc.EndUtc."},
		{"thread interval over 3 months", pathThreadsGetAll, demo("UpdatedUtc", obj{"StartUtc": "2022-01-01T00:00:00Z", "EndUtc": "2022-04-01T00:00:01Z"}, "Limitation", limitation(1, nil)), 400, "UpdatedUtc must not be longer than 3 months."},
		{"EnterpriseIds outside the token", pathThreadsGetAll, demo("EnterpriseIds", []string{uuid.NewString()}, "MessageThreadIds", []string{validThread}, "Limitation", limitation(1, nil)), 401, "EnterpriseIds[0]: the access token has no permission for enterprise…"},
		{"messages: MessageThreadIds missing", pathMessagesGetAll, demo("Limitation", limitation(1, nil)), 400, "MessageThreadIds is required."},
		{"messages: interval over 1 month", pathMessagesGetAll, demo("MessageThreadIds", []string{validThread}, "CreatedUtc", obj{"StartUtc": "2022-01-01T00:00:00Z", "EndUtc": "2022-02-01T00:00:01Z"}, "Limitation", limitation(1, nil)), 400, "CreatedUtc must not be longer than 1 month."},
		{"messages: empty batch", pathMessagesAdd, demo("Messages", []any{}), 400, "Messages must contain between 1 and 1000 items."},
		{"messages: empty Text", pathMessagesAdd, demo("Messages", []any{obj{"MessageThreadId": validThread, "Text": "hi"}, obj{"MessageThreadId": validThread, "Text": ""}}), 400, "Messages[1].Text must not be empty."},
		{"messages: unknown thread", pathMessagesAdd, demo("Messages", []any{obj{"MessageThreadId": validThread, "Text": "hi"}}), 400, "Invalid MessageThreadId…"},
		{"messages: MessageThreadId missing", pathMessagesAdd, demo("Messages", []any{obj{"Text": "hi"}}), 400, "Messages[0].MessageThreadId is required."},
		{"long values are fine", pathThreadsAdd, demo("OriginalSender", long, "Subject", long), 200, ""},
	}
	e := newEnv(t, server.Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.message == "" {
				return
			}
			msg, _ := r.body["Message"].(string)
			if prefix, ok := strings.CutSuffix(tc.message, "…"); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("Message %q, want prefix %q", msg, prefix)
				}
			} else if msg != tc.message {
				t.Errorf("Message %q, want %q", msg, tc.message)
			}
		})
	}
}

func manyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

func TestCaseVariantKeysDoNotBypassValidation(t *testing.T) {
	e := newEnv(t, server.Config{})
	th := e.addThread(demoClient, demoGross, "s")
	// The validated Count is 2; a case-insensitive decode would see 5000.
	r := e.post(pathThreadsGetAll, `{"ClientToken":"`+demoClient+`","AccessToken":"`+demoGross+`","Client":"c",
		"MessageThreadIds":["`+th["Id"].(string)+`"],"Limitation":{"Count":2,"COUNT":5000}}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	// The validated Subject is non-empty; the case variant is empty.
	r = e.post(pathThreadsAdd, `{"ClientToken":"`+demoClient+`","AccessToken":"`+demoGross+`","Client":"c",
		"OriginalSender":"a","Subject":"kept","SUBJECT":""}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if got := r.body["MessageThreads"].([]any)[0].(obj)["Subject"]; got != "kept" {
		t.Errorf("Subject %q, want the validated value", got)
	}
	// A token given only in another case is no token.
	r = e.post(pathThreadsAdd, `{"clienttoken":"`+demoClient+`","AccessToken":"`+demoGross+`","Client":"c","OriginalSender":"a","Subject":"s"}`)
	if r.status != 400 || r.body["Message"] != "ClientToken is required." {
		t.Errorf("got %d %s", r.status, r.raw)
	}
}

func TestExactPaths(t *testing.T) {
	e := newEnv(t, server.Config{})
	for _, p := range []string{"/api/connector/v1/messagethreads/add", pathThreadsAdd + "/", pathThreadsAdd + "x", "/api/connector/v1/messageThreads", "/"} {
		r := e.post(p, demo("OriginalSender", "a", "Subject", "b"))
		if r.status != 404 || !strings.HasPrefix(r.body["Message"].(string), "No operation at POST "+p+".") {
			t.Errorf("%s: got %d %s", p, r.status, r.raw)
		}
	}
	res, err := http.Get(e.ts.URL + pathThreadsAdd)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || !strings.Contains(res.Header.Get("Allow"), "POST") {
		t.Errorf("GET: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// Another method at an address that is not an operation (a document, a
// health check) is 405 with a message that says what the address answers:
// it said that API operations are called with POST.
func TestAnotherMethodAtADocumentSaysWhatItAnswers(t *testing.T) {
	e := newEnv(t, server.Config{})
	for _, p := range []string{"/openapi.json", server.PathReadyz} {
		r := e.post(p, "{}")
		msg, _ := r.body["Message"].(string)
		allow := r.header.Get("Allow")
		if r.status != 405 || !strings.Contains(allow, "GET") || msg != "Method POST is not allowed at "+p+", which answers "+allow+"." {
			t.Errorf("POST %s: %d, Allow %q, %s", p, r.status, allow, r.raw)
		}
	}
	res, err := http.Get(e.ts.URL + pathThreadsAdd)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Message string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 405 || !strings.HasSuffix(body.Message, "API operations are called with POST.") {
		t.Errorf("GET of an operation: %d %q (%v)", res.StatusCode, body.Message, err)
	}
}

func TestContentTypeMustBeJSON(t *testing.T) {
	e := newEnv(t, server.Config{})
	r := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b"), "Content-Type", "text/plain")
	if r.status != 415 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	r = e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b"), "Content-Type", "application/json; charset=utf-8")
	if r.status != 200 {
		t.Fatalf("with charset: status %d: %s", r.status, r.raw)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, server.Config{BodyLimit: 1024})
	r := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", strings.Repeat("s", 1024)))
	if r.status != 413 || r.body["Message"] != "The request body is larger than 1024 bytes." {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	r = e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", strings.Repeat("s", 500)))
	if r.status != 200 {
		t.Fatalf("under the limit: %d %s", r.status, r.raw)
	}
}

func TestPreferReturnMinimal(t *testing.T) {
	e := newEnv(t, server.Config{})
	q := demo("CreatedUtc", obj{"StartUtc": "2022-03-01T00:00:00Z", "EndUtc": "2022-03-31T00:00:00Z"}, "Limitation", limitation(10, nil))
	r := e.post(pathThreadsGetAll, q, "Prefer", "return=minimal")
	if r.status != 204 || len(r.raw) != 0 || r.header.Get("Content-Type") != "" || r.header.Get("Request-Id") == "" {
		t.Fatalf("empty page: %d %q Content-Type %q", r.status, r.raw, r.header.Get("Content-Type"))
	}
	r = e.post(pathThreadsGetAll, q)
	if r.status != 200 || r.body["Cursor"] != nil || len(r.body["MessageThreads"].([]any)) != 0 {
		t.Fatalf("empty page without Prefer: %d %s", r.status, r.raw)
	}
	if !bytes.Contains(r.raw, []byte(`"Cursor":null`)) {
		t.Errorf("Cursor must be present and null: %s", r.raw)
	}
	th := e.addThread(demoClient, demoGross, "s")
	r = e.post(pathThreadsGetAll, q, "Prefer", "respond-async, return=minimal")
	if r.status != 200 || r.body["Cursor"] != th["Id"] {
		t.Fatalf("non-empty page with Prefer: %d %s", r.status, r.raw)
	}
	r = e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(10, nil)), "Prefer", "return=minimal")
	if r.status != 204 {
		t.Fatalf("messages empty page: %d %s", r.status, r.raw)
	}
}

func TestMessagesMoveThreadUpdatedUtc(t *testing.T) {
	e := newEnv(t, server.Config{})
	th := e.addThread(demoClient, demoGross, "s")
	e.clock.Advance(90 * time.Second)
	r := e.addMessages(demoClient, demoGross,
		obj{"MessageThreadId": th["Id"], "Text": "first", "Identifier": "one"},
		obj{"MessageThreadId": th["Id"], "Text": "second"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	added := r.body["Messages"].([]any)
	if added[0].(obj)["Identifier"] != "one" || added[1].(obj)["Identifier"] != nil {
		t.Errorf("identifiers not echoed in order: %s", r.raw)
	}
	if !bytes.Contains(r.raw, []byte(`"Identifier":null`)) {
		t.Errorf("a missing Identifier must be answered as null: %s", r.raw)
	}
	m0 := added[0].(obj)["Message"].(obj)
	if m0["Text"] != "first" || m0["CreatedUtc"] != "2022-03-07T16:11:15Z" ||
		m0["Sender"].(obj)["Discriminator"] != "Application" || m0["MessageThreadId"] != th["Id"] {
		t.Errorf("message: %v", m0)
	}
	if !bytes.Contains(r.raw, []byte(`"Value":null`)) {
		t.Errorf("Sender.Value must be present and null: %s", r.raw)
	}
	g := e.post(pathThreadsGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
	got := g.body["MessageThreads"].([]any)[0].(obj)
	if got["UpdatedUtc"] != "2022-03-07T16:11:15Z" || got["CreatedUtc"] != "2022-03-07T16:09:45Z" {
		t.Errorf("thread after message: %v", got)
	}
	m := e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(10, nil)))
	msgs := m.body["Messages"].([]any)
	if len(msgs) != 2 || msgs[0].(obj)["Text"] != "second" || msgs[1].(obj)["Text"] != "first" {
		t.Errorf("messages newest first: %s", m.raw)
	}
	if m.body["Cursor"] != msgs[1].(obj)["Id"] {
		t.Errorf("Cursor %v is not the oldest item", m.body["Cursor"])
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	e := newEnv(t, server.Config{})
	mine := e.addThread(demoClient, demoGross, "mine")
	theirs := e.addThread(client2, client2Grs, "theirs")
	r := e.addMessages(demoClient, demoGross,
		obj{"MessageThreadId": mine["Id"], "Text": "ok"},
		obj{"MessageThreadId": theirs["Id"], "Text": "not yours"})
	if r.status != 400 || !strings.Contains(r.body["Message"].(string), theirs["Id"].(string)) {
		t.Fatalf("got %d %s", r.status, r.raw)
	}
	m := e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{mine["Id"]}, "Limitation", limitation(10, nil)))
	if n := len(m.body["Messages"].([]any)); n != 0 {
		t.Errorf("half a batch was applied: %d messages", n)
	}
}

func TestTenancy(t *testing.T) {
	e := newEnv(t, server.Config{})
	mine := e.addThread(demoClient, demoGross, "mine")
	net := e.addThread(demoClient, demoNet, "net enterprise")
	theirs := e.addThread(client2, client2Grs, "theirs")
	all := []any{mine["Id"], net["Id"], theirs["Id"]}

	ids := func(r response) []any {
		var out []any
		for _, t := range r.body["MessageThreads"].([]any) {
			out = append(out, t.(obj)["Id"])
		}
		return out
	}
	r := e.post(pathThreadsGetAll, demo("MessageThreadIds", all, "Limitation", limitation(10, nil)))
	if got := ids(r); len(got) != 1 || got[0] != mine["Id"] {
		t.Errorf("integration 1, gross token sees %v", got)
	}
	r = e.post(pathThreadsGetAll, creds(demoClient, demoNet, "MessageThreadIds", all, "Limitation", limitation(10, nil)))
	if got := ids(r); len(got) != 1 || got[0] != net["Id"] {
		t.Errorf("integration 1, net token sees %v", got)
	}
	r = e.post(pathThreadsGetAll, creds(client2, client2Grs, "MessageThreadIds", all, "Limitation", limitation(10, nil)))
	if got := ids(r); len(got) != 1 || got[0] != theirs["Id"] {
		t.Errorf("integration 2 sees %v", got)
	}
	// Someone else's thread is an invalid identifier: no messages, no cursor.
	r = e.addMessages(client2, client2Grs, obj{"MessageThreadId": theirs["Id"], "Text": "hello"})
	if r.status != 200 {
		t.Fatal(r.status)
	}
	r = e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{theirs["Id"]}, "Limitation", limitation(10, nil)))
	if r.status != 200 || len(r.body["Messages"].([]any)) != 0 {
		t.Errorf("integration 1 reads integration 2's messages: %s", r.raw)
	}
	cursor := r.body["Cursor"]
	r = e.post(pathThreadsGetAll, demo("MessageThreadIds", all, "Limitation", limitation(10, theirs["Id"])))
	if r.status != 400 {
		t.Errorf("someone else's thread as a cursor: %d %s (cursor %v)", r.status, r.raw, cursor)
	}
}

func TestPortfolioAccessToken(t *testing.T) {
	hotelA, hotelB, hotelC := uuid.New(), uuid.New(), uuid.New()
	off := false
	cfg := &server.TokenConfig{DemoTokens: &off, Integrations: []server.IntegrationConfig{{
		Name: "Chain app", ClientToken: "chain-client",
		AccessTokens: []server.AccessTokenConfig{
			{Token: "token-a", EnterpriseIDs: []uuid.UUID{hotelA}},
			{Token: "token-b", EnterpriseIDs: []uuid.UUID{hotelB}},
			{Token: "token-c", EnterpriseIDs: []uuid.UUID{hotelC}},
			{Token: "portfolio-ab", EnterpriseIDs: []uuid.UUID{hotelA, hotelB}},
		},
	}}}
	e := newEnv(t, server.Config{Tokens: cfg})
	if r := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b")); r.status != 401 {
		t.Errorf("demo tokens still accepted with demoTokens: false (%d)", r.status)
	}
	a := e.addThread("chain-client", "token-a", "in A")
	b := e.addThread("chain-client", "token-b", "in B")
	c := e.addThread("chain-client", "token-c", "in C")
	all := []any{a["Id"], b["Id"], c["Id"]}
	count := func(body obj) int {
		r := e.post(pathThreadsGetAll, body)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		return len(r.body["MessageThreads"].([]any))
	}
	if n := count(creds("chain-client", "portfolio-ab", "MessageThreadIds", all, "Limitation", limitation(10, nil))); n != 2 {
		t.Errorf("portfolio without EnterpriseIds sees %d threads, want 2 (A and B)", n)
	}
	if n := count(creds("chain-client", "portfolio-ab", "EnterpriseIds", []any{hotelB}, "MessageThreadIds", all, "Limitation", limitation(10, nil))); n != 1 {
		t.Errorf("portfolio narrowed to B sees %d threads, want 1", n)
	}
	r := e.post(pathThreadsGetAll, creds("chain-client", "portfolio-ab", "EnterpriseIds", []any{hotelC}, "MessageThreadIds", all, "Limitation", limitation(10, nil)))
	if r.status != 401 {
		t.Errorf("enterprise outside the portfolio: %d %s", r.status, r.raw)
	}
	r = e.post(pathThreadsAdd, creds("chain-client", "portfolio-ab", "OriginalSender", "a", "Subject", "b"))
	if r.status != 401 {
		t.Errorf("messageThreads/add with a portfolio token: %d %s", r.status, r.raw)
	}
	r = e.addMessages("chain-client", "portfolio-ab", obj{"MessageThreadId": a["Id"], "Text": "x"}, obj{"MessageThreadId": b["Id"], "Text": "y"})
	if r.status != 200 {
		t.Errorf("messages/add with a portfolio token to its enterprises: %d %s", r.status, r.raw)
	}
	r = e.addMessages("chain-client", "portfolio-ab", obj{"MessageThreadId": c["Id"], "Text": "x"})
	if r.status != 400 {
		t.Errorf("messages/add to a thread outside the portfolio: %d %s", r.status, r.raw)
	}
}

func TestTokenConfigYAML(t *testing.T) {
	cfg, err := server.ParseTokenConfig(strings.NewReader(`
demoTokens: false
integrations:
  - name: My integration
    clientToken: my-client
    accessTokens:
      - token: my-access
        enterpriseIds: [8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30]
`))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{Tokens: cfg})
	e.addThread("my-client", "my-access", "configured")
	if _, err := server.ParseTokenConfig(strings.NewReader("integrations:\n  - nmae: typo\n")); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := server.ParseTokenConfig(strings.NewReader("integrations:\n  - clientToken: c\n    accessTokens: [{token: t, enterpriseIds: [not-a-uuid]}]\n")); err == nil {
		t.Error("bad enterprise id accepted")
	}
	_, _, err = server.New(server.Config{Tokens: &server.TokenConfig{Integrations: []server.IntegrationConfig{{Name: "x", ClientToken: "c", AccessTokens: []server.AccessTokenConfig{{Token: "t"}}}}}})
	if err == nil {
		t.Error("access token without enterprises accepted")
	}
}
