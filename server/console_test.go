package server_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/server"
)

// consoleClient is a browser-like client of the console: a cookie jar, no
// redirects followed.
func consoleClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func send(t *testing.T, c *http.Client, method, u string, form url.Values, header ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func signIn(t *testing.T, c *http.Client, base string) {
	t.Helper()
	res, body := send(t, c, http.MethodPost, base+"/console/signin", url.Values{"token": {adminToken}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d %s", res.StatusCode, body)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%.2000s", page)
	}
	return m[1]
}

func TestConsoleAbsentWithoutAdminToken(t *testing.T) {
	e := newEnv(t, server.Config{})
	for _, p := range []string{"/console", "/console/", "/console/signin", "/console/assets/console.js"} {
		res, _ := send(t, consoleClient(t), http.MethodGet, e.ts.URL+p, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without -admin-token: %d, want 404", p, res.StatusCode)
		}
	}
}

func TestConsoleNeedsSignIn(t *testing.T) {
	s := newConsoleSite(t)
	id := s.addThread("John Doe", "Secret subject")
	c := consoleClient(t)
	for _, p := range []string{"/console/", "/console/threads/" + id, "/console/webhooks", "/console/nothing"} {
		res, body := send(t, c, http.MethodGet, s.ts.URL+p, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/signin" || strings.Contains(body, "Secret") {
			t.Errorf("signed out, GET %s: %d %q %s", p, res.StatusCode, res.Header.Get("Location"), body)
		}
	}
	if res, _ := send(t, c, http.MethodGet, s.ts.URL+"/console/events", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed out, the event stream: %d, want 401", res.StatusCode)
	}
	for _, p := range []string{"/console/threads/" + id + "/reply", "/console/threads/" + id + "/resolve", "/console/webhooks/urls"} {
		res, _ := send(t, c, http.MethodPost, s.ts.URL+p, url.Values{"text": {"x"}, "resolved": {"true"}})
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("signed out, POST %s: %d, want 401", p, res.StatusCode)
		}
	}
	// Wrong tokens, as a form or a header.
	res, body := send(t, c, http.MethodPost, s.ts.URL+"/console/signin", url.Values{"token": {"wrong"}})
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("sign-in with a wrong token: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	if !strings.Contains(body, `data-testid="signin-error"`) {
		t.Errorf("no sign-in error shown:\n%s", body)
	}
	if res, _ := send(t, c, http.MethodGet, s.ts.URL+"/console/", nil, "Authorization", "Bearer wrong"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong bearer token: %d, want 401", res.StatusCode)
	}
	// A forged cookie.
	u, _ := url.Parse(s.ts.URL + "/console/")
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "mewsref_console", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAA", Path: "/console"}})
	if res, _ := send(t, c, http.MethodGet, s.ts.URL+"/console/", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("forged cookie: %d, want the sign-in redirect", res.StatusCode)
	}
}

// An address of the console called with a method it does not answer is
// answered 405 with the methods it answers (Allow), signed in or not, as
// the API's routes are; it was 404 (or the sign-in's 401), as an address
// that is not there. One that is not there stays 404.
func TestConsoleAnswersAnotherMethod405(t *testing.T) {
	s := newConsoleSite(t)
	id := s.addThread("John Doe", "Subject")
	c := consoleClient(t)
	bearer := []string{"Authorization", "Bearer " + adminToken}
	for _, x := range []struct{ method, path, allow string }{
		{http.MethodPost, "/console/webhooks", "GET, HEAD"},
		{http.MethodPut, "/console/requests", "GET, HEAD"},
		{http.MethodDelete, "/console/threads/" + id, "GET, HEAD"},
		{http.MethodPost, "/console/events", "GET, HEAD"},
		{http.MethodPost, "/console/assets/console.js", "GET, HEAD"},
		{http.MethodGet, "/console/threads/" + id + "/reply", "POST"},
		{http.MethodPatch, "/console/signin", "GET, HEAD, POST"},
	} {
		for _, h := range [][]string{nil, bearer} {
			res, body := send(t, c, x.method, s.ts.URL+x.path, nil, h...)
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != x.allow || !strings.Contains(body, "answers "+x.allow+", not "+x.method) {
				t.Errorf("%s %s (signed in: %t): %d, Allow %q, want 405 and %q: %.300s", x.method, x.path, h != nil, res.StatusCode, res.Header.Get("Allow"), x.allow, body)
			}
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if res, _ := send(t, c, m, s.ts.URL+"/console/nowhere", nil, bearer...); res.StatusCode != http.StatusNotFound || res.Header.Get("Allow") != "" {
			t.Errorf("%s of an address the console does not have: %d, Allow %q, want 404", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

func TestConsoleSessionCookieAndHeaders(t *testing.T) {
	s := newConsoleSite(t)
	c := consoleClient(t)
	res, _ := send(t, c, http.MethodPost, s.ts.URL+"/console/signin", url.Values{"token": {adminToken}})
	var ck *http.Cookie
	for _, x := range res.Cookies() {
		if x.Name == "mewsref_console" {
			ck = x
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || ck.MaxAge <= 0 {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict, Path=/console, with a lifetime", ck)
	}
	if strings.Contains(ck.Value, adminToken) {
		t.Error("the cookie contains the admin token")
	}
	for _, p := range []string{"/console/", "/console/webhooks", "/console/signin"} {
		res, body := send(t, c, http.MethodGet, s.ts.URL+p, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, res.StatusCode, body)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
			t.Errorf("GET %s: inline script or style", p)
		}
		if strings.Contains(body, adminToken) {
			t.Errorf("GET %s: the page contains the admin token", p)
		}
	}
}

// The console's reply is the admin API's: the integration sees the
// enterprise's message, the thread's UpdatedUtc moves, a webhook delivery
// is queued. Without the CSRF token, or from another origin, nothing
// happens.
func TestConsoleReplyResolveAndCSRF(t *testing.T) {
	s := newConsoleSite(t)
	id := s.addThread("John Doe", `<script>alert("x")</script>`)
	c := consoleClient(t)
	signIn(t, c, s.ts.URL)
	thread := s.ts.URL + "/console/threads/" + id
	_, page := send(t, c, http.MethodGet, thread, nil)
	if strings.Contains(page, `<script>alert("x")`) || !strings.Contains(page, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Errorf("the subject is not escaped:\n%.3000s", page)
	}
	csrf := csrfOf(t, page)

	for _, bad := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no CSRF token", url.Values{"text": {"forged"}}, nil},
		{"a wrong CSRF token", url.Values{"text": {"forged"}, "csrf": {csrf + "x"}}, nil},
		{"another origin", url.Values{"text": {"forged"}, "csrf": {csrf}}, []string{"Origin", "http://evil.example"}},
		{"another site", url.Values{"text": {"forged"}, "csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		if res, _ := send(t, c, http.MethodPost, thread+"/reply", bad.form, bad.header...); res.StatusCode != http.StatusForbidden {
			t.Errorf("reply with %s: %d, want 403", bad.name, res.StatusCode)
		}
	}
	// What a person types is validated like an admin API request.
	if res, body := send(t, c, http.MethodPost, thread+"/reply", url.Values{"text": {""}, "csrf": {csrf}}); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Text") {
		t.Errorf("empty reply: %d, want 400 naming Text: %s", res.StatusCode, body)
	}
	if res, body := send(t, c, http.MethodGet, s.ts.URL+"/console/?q="+strings.Repeat("x", 201), nil); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Text") {
		t.Errorf("a search of 201 characters: %d, want 400 naming Text: %s", res.StatusCode, body)
	}
	r := s.call(pathMessagesGetAll, demo("MessageThreadIds", []string{id}, "Limitation", obj{"Count": 10}), false)
	if n := len(r["Messages"].([]any)); n != 0 {
		t.Fatalf("%d messages after forged replies, want none", n)
	}

	res, _ := send(t, c, http.MethodPost, thread+"/reply", url.Values{"text": {"We will keep the room."}, "csrf": {csrf}},
		"Origin", s.ts.URL, "Sec-Fetch-Site", "same-origin")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %d", res.StatusCode)
	}
	r = s.call(pathMessagesGetAll, demo("MessageThreadIds", []string{id}, "Limitation", obj{"Count": 10}), false)
	msgs := r["Messages"].([]any)
	if len(msgs) != 1 || msgs[0].(obj)["Text"] != "We will keep the room." || msgs[0].(obj)["Sender"].(obj)["Discriminator"] != "Enterprise" {
		t.Fatalf("messages after the reply: %v", r)
	}
	r = s.call(pathThreadsGetAll, demo("MessageThreadIds", []string{id}, "Limitation", obj{"Count": 1}), false)
	th := r["MessageThreads"].([]any)[0].(obj)
	if th["UpdatedUtc"] != msgs[0].(obj)["CreatedUtc"] {
		t.Errorf("UpdatedUtc %v after the reply at %v", th["UpdatedUtc"], msgs[0].(obj)["CreatedUtc"])
	}
	waitWebhook(t, s.webhooks, msgs[0].(obj)["Id"].(string))

	res, _ = send(t, c, http.MethodPost, thread+"/resolve", url.Values{"resolved": {"true"}, "csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", res.StatusCode)
	}
	r = s.call(pathThreadsGetAll, demo("MessageThreadIds", []string{id}, "Limitation", obj{"Count": 1}), false)
	if r["MessageThreads"].([]any)[0].(obj)["IsResolved"] != true {
		t.Errorf("after resolve: %v", r)
	}

	// Scripts sign in with the bearer header and need no CSRF token.
	res, _ = send(t, consoleClient(t), http.MethodPost, thread+"/resolve", url.Values{"resolved": {"false"}}, "Authorization", "Bearer "+adminToken)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reopen with the bearer header: %d", res.StatusCode)
	}
	if res, body := send(t, consoleClient(t), http.MethodGet, s.ts.URL+"/console/threads/"+uuid.NewString(), nil, "Authorization", "Bearer "+adminToken); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "no message thread") {
		t.Errorf("unknown thread: %d %s", res.StatusCode, body)
	}
}

// readEvent reads the event stream up to the next event named name.
func readEvent(t *testing.T, sc *bufio.Scanner, name string) {
	t.Helper()
	for sc.Scan() {
		if sc.Text() == "event: "+name {
			return
		}
	}
	t.Fatalf("the stream ended without an event %q: %v", name, sc.Err())
}

// changeOf does act and reads the event stream up to the event of the
// change that act must cause. Changes signalled before act may still be on
// their way to the stream, and their events may follow act: so the changes
// are settled before and after act (Probe.SettleChanges), act must raise
// their generation, and the event wanted is one of that generation or
// later, whose id only a change of act's can have.
func changeOf(t *testing.T, sc *bufio.Scanner, p *server.Probe, what string, act func()) {
	t.Helper()
	before, err := p.SettleChanges(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	act()
	after, err := p.SettleChanges(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatalf("%s signalled no change: the generation is %d before and after", what, before)
	}
	var id string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "id: ") {
			id = line
		}
		if line == "event: change" {
			if n, _ := strconv.ParseUint(strings.TrimPrefix(id, "id: "), 10, 64); n >= after {
				return
			}
		}
	}
	t.Fatalf("%s: the stream ended without an event of generation %d or later (the last: %q): %v", what, after, id, sc.Err())
}

// openEvents opens the console's event stream of base with the bearer
// header; the test's deadline bounds the wait for events.
func openEvents(t *testing.T, base string) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithDeadline(t.Context(), testwait.Deadline(t))
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/console/events", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("event stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && sc.Text() != ": connected" {
	}
	return sc
}

// Each write is followed by an event of its own. The journal is off: its
// entry of the API request is a change too, after the write's, and would
// stand in for a write that signals none.
func TestConsoleEventsFollowWrites(t *testing.T) {
	cfg := server.Config{Journal: -1, RequestTimeout: time.Until(testwait.Deadline(t))} // the stream's too
	p := server.NewProbe(&cfg)
	s := newConsoleSiteWith(t, cfg)
	sc := openEvents(t, s.ts.URL)
	var id string
	changeOf(t, sc, p, "a new thread", func() { id = s.addThread("John Doe", "New") })
	changeOf(t, sc, p, "a resolution", func() {
		s.call("/_admin/v1/messageThreads/resolve", obj{"MessageThreadId": id, "IsResolved": true}, true)
	})
}

// Fault rules and the clock are live too: another tab of the controls
// page refreshes when they change.
func TestConsoleEventsFollowFaultsAndClock(t *testing.T) {
	cfg := server.Config{RequestTimeout: time.Until(testwait.Deadline(t))} // the stream's too
	p := server.NewProbe(&cfg)
	s := newConsoleSiteWith(t, cfg)
	sc := openEvents(t, s.ts.URL)
	for _, c := range []struct {
		what, path string
		body       obj
	}{
		{"a fault rule added", "/_admin/v1/faults/add", obj{"Operation": "messages/add", "Status": 500}},
		{"the fault rules cleared", "/_admin/v1/faults/clear", obj{}},
		{"the clock advanced", "/_admin/v1/clock/advance", obj{"Seconds": 60}},
		{"the clock released", "/_admin/v1/clock/release", obj{}},
	} {
		changeOf(t, sc, p, c.what, func() { s.call(c.path, c.body, true) })
	}
}
