package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/server"
)

// The XSS payloads of the console test: markup and quotes of both kinds in
// every field the console shows.
const (
	xssSubject = `<script>window.__xss=1</script>"Late" check-in's`
	xssSender  = `<img src=x onerror="window.__xss=2">O'Brien "Jo"`
	xssText    = `</textarea><script>window.__xss=3</script> Is "breakfast" included? It's <b>urgent</b>`
)

// consoleSite is a server with the admin API (and so the console) enabled,
// every response of which is validated (apitest), and a webhook receiver.
type consoleSite struct {
	t        *testing.T
	ts       *httptest.Server
	api      *http.Client
	webhooks chan []byte
}

func newConsoleSite(t *testing.T) *consoleSite {
	t.Helper()
	return newConsoleSiteWith(t, server.Config{})
}

// newConsoleSiteWith is newConsoleSite with the rest of cfg.
func newConsoleSiteWith(t *testing.T, cfg server.Config) *consoleSite {
	t.Helper()
	stopping := make(chan struct{})
	cfg.AdminToken, cfg.Stopping = adminToken, stopping
	h, closeFn, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(apitest.NewValidator(t).Handler(t, h)) // the pages too, by their header
	site := &consoleSite{t: t, ts: ts, api: http.DefaultClient,
		webhooks: make(chan []byte, 100)}
	t.Cleanup(func() {
		close(stopping) // ends the event streams, or ts.Close would wait for them
		ts.Close()
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		site.webhooks <- b
	}))
	t.Cleanup(receiver.Close)
	ins := site.call("/_admin/v1/integrations/getAll", obj{}, true)["Integrations"].([]any)
	site.call("/_admin/v1/webhooks/set", obj{"IntegrationId": ins[0].(obj)["IntegrationId"], "Urls": []string{receiver.URL + "/mews"}}, true)
	return site
}

// call posts body to an API path (the admin API's with the admin token) and
// returns the decoded 200 answer.
func (s *consoleSite) call(path string, body any, asAdmin bool) obj {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if asAdmin {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	res, err := s.api.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		s.t.Fatalf("%s: %d %s", path, res.StatusCode, raw)
	}
	var out obj
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("%s: %v", path, err)
	}
	return out
}

func (s *consoleSite) addThread(sender, subject string) string {
	s.t.Helper()
	r := s.call(pathThreadsAdd, demo("OriginalSender", sender, "Subject", subject), false)
	return r["MessageThreads"].([]any)[0].(obj)["Id"].(string)
}

func (s *consoleSite) guestSays(thread, text string) string {
	s.t.Helper()
	r := s.call(pathMessagesAdd, demo("Messages", []obj{{"MessageThreadId": thread, "Text": text}}), false)
	return r["Messages"].([]any)[0].(obj)["Message"].(obj)["Id"].(string)
}

// browser is one headless Chromium tab, on loopback only, with what its
// pages did recorded.
type browser struct {
	t       *testing.T
	ctx     context.Context
	log     *pageLog
	mu      sync.Mutex
	dialogs []string
}

func newBrowser(t *testing.T, exe string, width, height int) *browser {
	t.Helper()
	ctx := startChromium(t, exe, width, height)
	b := &browser{t: t, ctx: ctx, log: &pageLog{requests: map[network.RequestID]string{}, blocked: map[network.RequestID]string{}}}
	if err := chromedp.Listen(ctx, func(ev any) {
		b.log.listen(ev)
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.mu.Lock()
			b.dialogs = append(b.dialogs, d.Message)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage:\n%.3000s", what, err, b.text())
	}
}

// click clicks the element; one that a live update replaces meanwhile
// (between chromedp's finding it, scrolling to it and measuring it) is
// looked up again.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	for i := 0; ; i++ {
		err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			return
		}
		if i < 20 && replaced(err) {
			continue
		}
		b.t.Fatalf("%s: %v\npage:\n%.3000s", what, err, b.text())
	}
}

// replaced reports whether err says that the node acted on left the page.
func replaced(err error) bool {
	if errors.Is(err, chromedp.ErrInvalidDimensions) {
		return true // no layout: detached
	}
	s := err.Error()
	return strings.Contains(s, "Could not find node") || strings.Contains(s, "Node is detached") ||
		strings.Contains(s, "Could not compute content quads")
}

// submit clicks a button that posts its form, and waits for the page the
// server answers with to be loaded.
func (b *browser) submit(what, sel string) {
	b.t.Helper()
	b.eval(`String(window.__submitting = true)`)
	b.click(what, sel)
	b.eventually(what+": the next page", `window.__submitting === undefined && document.readyState === "complete"`)
}

func (b *browser) text() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// eventually waits until the JavaScript predicate holds: the page changes by
// itself (live updates), so the test waits for the change, not for a time.
// A poll that a navigation interrupts (a form posted, a link followed)
// starts again on the new page.
func (b *browser) eventually(what, predicate string) {
	b.t.Helper()
	deadline := testwait.Deadline(b.t)
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Now().Before(deadline) && navigated(err) {
			continue
		}
		b.t.Fatalf("%s: %v\npage:\n%.3000s", what, err, b.text())
	}
}

func navigated(err error) bool {
	s := err.Error()
	return strings.Contains(s, "navigated or closed") || strings.Contains(s, "context was destroyed") ||
		strings.Contains(s, "Cannot find context")
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("MEWSREF_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// checkOffline fails the test for a script error, a dialog, or any request
// to another origin than the server's.
func (b *browser) checkOffline(own string) {
	b.t.Helper()
	u, _ := url.Parse(own)
	b.log.mu.Lock()
	defer b.log.mu.Unlock()
	for _, e := range b.log.exceptions {
		b.t.Errorf("script error on the page: %s", e)
	}
	for _, raw := range b.log.requests {
		r, err := url.Parse(raw)
		if err != nil || r.Scheme == "data" {
			continue
		}
		if r.Host != u.Host {
			b.t.Errorf("the console requested %s, outside its origin %s", raw, own)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		b.t.Errorf("a dialog opened (injected script?): %q", d)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestConsoleInChromium plays the hotel in the console of a real browser:
// sign-in, the live inbox and conversation, a reply that reaches the API
// and the integration's webhook, resolution, escaping, and nothing fetched
// from elsewhere. With MEWSREF_CONSOLE_SCREENSHOTS=dir it saves the
// screenshots of the README there.
func TestConsoleInChromium(t *testing.T) {
	exe := chromium(t)
	site := newConsoleSite(t)
	// A few conversations to start with.
	early := site.addThread("Marie Curie", "Airport transfer")
	site.guestSays(early, "Could you book a taxi from the airport for Friday, 9:40?")
	parking := site.addThread("Alan Turing", "Parking for an electric car")
	site.guestSays(parking, "Do you have a charging station?")
	site.call("/_admin/v1/messageThreads/resolve", obj{"MessageThreadId": parking, "IsResolved": true}, true)

	b := newBrowser(t, exe, 1280, 860)

	// Signed out, nothing of the console shows: pages lead to the sign-in.
	for _, path := range []string{"/console/", "/console/threads/" + early, "/console/webhooks"} {
		b.do("open "+path, chromedp.Navigate(site.ts.URL+path))
		b.eventually("the sign-in page at "+path, `document.querySelector("[data-testid=signin-form]") !== null`)
		if text := b.text(); strings.Contains(text, "Marie Curie") || strings.Contains(text, "Airport") {
			t.Errorf("signed out, %s shows data:\n%s", path, text)
		}
	}
	if got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch("/console/events").then(r => String(r.status))`, chromedp.EvalAwaitPromise)); err != nil || got != "401" {
		t.Errorf("signed out, the event stream answers %s, want 401", got)
	}

	// Sign in with the admin token.
	b.do("type the token", chromedp.SendKeys(chromedp.CSS("[data-testid=signin-token]"), adminToken))
	b.submit("sign in", "[data-testid=signin-submit]")
	b.eventually("the inbox", `document.querySelectorAll("[data-testid=thread-row]").length === 2`)
	b.eventually("the live stream", `document.querySelector("[data-testid=live-status]").textContent === "live"`)
	if html := b.eval(`document.documentElement.outerHTML`); strings.Contains(html, adminToken) {
		t.Error("the page contains the admin token")
	}
	b.eval(`String(window.__notReloaded = true)`)

	// A thread and a guest message created through the API appear without
	// a reload, newest activity first, marked unread.
	xss := site.addThread(xssSender, xssSubject)
	row := `document.querySelector('[data-thread-id="` + xss + `"]')`
	b.eventually("the new thread in the inbox", row+` !== null`)
	site.guestSays(xss, xssText)
	b.eventually("its message in the inbox", row+` && `+row+`.querySelector("[data-testid=thread-last-message]").textContent.includes(`+jsString("Is \"breakfast\" included?")+`)`)
	if got := b.eval(`document.querySelector("[data-testid=thread-row]").dataset.threadId`); got != xss {
		t.Errorf("first row %s, want the thread with the newest activity %s", got, xss)
	}
	if got := b.eval(`String(!` + row + `.querySelector("[data-testid=thread-unread]").hidden)`); got != "true" {
		t.Error("the new thread is not marked unread")
	}
	if got := b.eval(row + `.querySelector("[data-testid=thread-sender]").textContent`); got != xssSender {
		t.Errorf("sender shown as %q, want the text %q", got, xssSender)
	}
	if got := b.eval(row + `.querySelector("[data-testid=thread-subject]").textContent`); got != xssSubject {
		t.Errorf("subject shown as %q, want the text %q", got, xssSubject)
	}
	if got := b.eval(`String(window.__notReloaded === true)`); got != "true" {
		t.Error("the inbox reloaded instead of updating in place")
	}
	// Search and the resolved filter.
	b.do("type a search", chromedp.SendKeys(chromedp.CSS("[data-testid=search-text]"), "charging"))
	b.submit("search", "[data-testid=search-submit]")
	b.eventually("the search result", `location.search.includes("q=charging") && document.querySelectorAll("[data-testid=thread-row]").length === 1 && document.querySelector('[data-thread-id="`+parking+`"]') !== null`)
	b.do("inbox", chromedp.Navigate(site.ts.URL+"/console/?resolved=false"))
	b.eventually("the open threads", `document.querySelectorAll("[data-testid=thread-row]").length === 2 && document.querySelector('[data-thread-id="`+parking+`"]') === null`)
	b.do("inbox", chromedp.Navigate(site.ts.URL+"/console/"))
	b.eventually("every thread", `document.querySelectorAll("[data-testid=thread-row]").length === 3`)
	upgrade := site.addThread("Ada Lovelace", "Room upgrade for our anniversary")
	site.guestSays(upgrade, "Is a room with a view of the river available on the 12th?")
	b.eventually("the newest thread, unread", `document.querySelectorAll("[data-testid=thread-row]").length === 4 && document.querySelector('[data-thread-id="`+upgrade+`"].unread') !== null`)
	b.screenshot("console-inbox.png")

	// The conversation, live too.
	b.click("open the conversation", `[data-thread-id="`+xss+`"] [data-testid=thread-subject]`)
	b.eventually("the conversation", `document.querySelector("[data-testid=conversation]") !== null && document.querySelectorAll("[data-testid=message]").length === 1`)
	b.eventually("the live stream", `document.querySelector("[data-testid=live-status]").textContent === "live"`)
	if got := b.eval(`document.querySelector("[data-testid=thread-title]").textContent`); got != xssSubject {
		t.Errorf("title %q, want %q", got, xssSubject)
	}
	if got := b.eval(`document.querySelector("[data-testid=message-text]").textContent`); got != xssText {
		t.Errorf("message %q, want %q", got, xssText)
	}
	if got := b.eval(`document.querySelector("[data-testid=message-time]").title`); !strings.HasSuffix(got, " UTC") {
		t.Errorf("time tooltip %q, want the UTC time", got)
	}
	b.eval(`String(window.__notReloaded = true)`)
	second := site.guestSays(xss, "We land at 23:10, is that too late?")
	b.eventually("the guest's new message", `document.querySelector('[data-message-id="`+second+`"][data-sender=Application]') !== null`)
	if got := b.eval(`String(window.__notReloaded === true)`); got != "true" {
		t.Error("the conversation reloaded instead of updating in place")
	}

	// A reply typed in the page is the enterprise's message, in the API and
	// in a webhook to the integration.
	const reply = `No problem: the night desk is open. <3 "See you"`
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("[data-testid=reply-text]"), reply))
	b.submit("reply", "[data-testid=reply-submit]")
	b.eventually("the reply in the chat", `Array.from(document.querySelectorAll("[data-testid=message][data-sender=Enterprise] [data-testid=message-text]")).some(e => e.textContent === `+jsString(reply)+`)`)
	msgs := site.call(pathMessagesGetAll, demo("MessageThreadIds", []string{xss}, "Limitation", obj{"Count": 10}), false)["Messages"].([]any)
	newest := msgs[0].(obj)
	if newest["Text"] != reply || newest["Sender"].(obj)["Discriminator"] != "Enterprise" {
		t.Fatalf("messages/getAll's newest message %v, want the reply from the Enterprise", newest)
	}
	th := site.call(pathThreadsGetAll, demo("MessageThreadIds", []string{xss}, "Limitation", obj{"Count": 1}), false)["MessageThreads"].([]any)[0].(obj)
	if th["UpdatedUtc"] != newest["CreatedUtc"] {
		t.Errorf("thread UpdatedUtc %v, want the reply's CreatedUtc %v", th["UpdatedUtc"], newest["CreatedUtc"])
	}
	waitWebhook(t, site.webhooks, newest["Id"].(string))

	// Resolve.
	b.submit("resolve", "[data-testid=resolve-button]")
	b.eventually("the resolved state", `document.querySelector("[data-testid=thread-state]").textContent === "Resolved"`)
	th = site.call(pathThreadsGetAll, demo("MessageThreadIds", []string{xss}, "Limitation", obj{"Count": 1}), false)["MessageThreads"].([]any)[0].(obj)
	if th["IsResolved"] != true {
		t.Errorf("after resolve, the API says IsResolved %v", th["IsResolved"])
	}
	b.do("open the first conversation", chromedp.Navigate(site.ts.URL+"/console/threads/"+early))
	b.eventually("it", `document.querySelectorAll("[data-testid=message]").length === 1`)
	b.do("type a reply", chromedp.SendKeys(chromedp.CSS("[data-testid=reply-text]"), "Of course. A driver will wait at arrivals with your name on a sign."))
	b.submit("reply", "[data-testid=reply-submit]")
	b.eventually("the reply", `document.querySelectorAll("[data-testid=message]").length === 2`)
	site.guestSays(early, "Perfect, thank you!")
	b.eventually("the guest's thanks", `document.querySelectorAll("[data-testid=message]").length === 3`)
	b.screenshot("console-conversation.png")

	// Webhooks: the delivery of the reply, delivered.
	b.do("webhooks", chromedp.Navigate(site.ts.URL+"/console/webhooks"))
	b.eventually("the deliveries", `Array.from(document.querySelectorAll("[data-testid=delivery-status]")).some(e => e.textContent === "Delivered")`)
	if got := b.eval(`document.querySelector("[data-testid=delivery-body]").textContent`); !strings.Contains(got, `"MessageAdded"`) {
		t.Errorf("delivery body %q", got)
	}
	// Redeliver the newest delivery: a new one, delivered, with the same
	// body. Delivered, the newest one's body is in site.webhooks (the
	// receiver takes it before it answers): what arrives after the drain
	// is the redelivery, or an older delivery still under way.
	b.eventually("the newest delivery, delivered", `document.querySelector("[data-testid=delivery-row] [data-testid=delivery-status]").textContent === "Delivered"`)
	first := b.eval(`document.querySelector("[data-testid=delivery-row]").dataset.deliveryId`)
	body := b.eval(`document.querySelector("[data-testid=delivery-body]").textContent`)
	for len(site.webhooks) > 0 {
		<-site.webhooks
	}
	b.submit("redeliver", "[data-testid=redeliver-button]")
	b.eventually("the new delivery, delivered", `(() => { const r = document.querySelector("[data-testid=delivery-row]");
		return r.dataset.deliveryId !== `+jsString(first)+` && r.querySelector("[data-testid=delivery-status]").textContent === "Delivered"; })()`)
	if got := b.eval(`document.querySelector("[data-testid=delivery-body]").textContent`); got != body {
		t.Errorf("redelivered body %q, want %q", got, body)
	}
	var others [][]byte
	for again := false; !again; {
		select {
		case got := <-site.webhooks:
			if again = sameJSON(got, []byte(body)); !again {
				others = append(others, got)
			}
		case <-time.After(time.Until(testwait.Deadline(t))):
			t.Fatalf("the redelivery of %s did not reach the receiver, which got %q", body, others)
		}
	}

	// The journal: the app's calls, newest first, bodies shown, tokens
	// masked; live, and filtered.
	b.do("requests", chromedp.Navigate(site.ts.URL+"/console/requests"))
	b.eventually("the journal", `Array.from(document.querySelectorAll("[data-testid=request-row]"), r => r.dataset.operation).includes("messageThreads/add")`)
	if got := b.eval(`Array.from(document.querySelectorAll("[data-testid=request-body]")).some(e => e.textContent.includes("check-in's")) + ""`); got != "true" {
		t.Error("the journal does not show the body of the thread's messageThreads/add")
	}
	if html := b.eval(`document.documentElement.outerHTML`); strings.Contains(html, demoGross) || strings.Contains(html, demoClient) {
		t.Error("the journal page shows a full token")
	}
	site.addThread("Katherine Johnson", "Journal, live")
	b.eventually("the new call, live", `Array.from(document.querySelectorAll("[data-testid=request-body]")).some(e => e.textContent.includes("Journal, live"))`)
	b.eval(`String(document.querySelector("[data-testid=request-row] details").open = true)`)
	b.screenshot("console-requests.png")
	b.do("filter", chromedp.Navigate(site.ts.URL+"/console/requests?op=messages%2Fadd"))
	b.eventually("messages/add only", `(() => { const ops = Array.from(document.querySelectorAll("[data-testid=request-row]"), r => r.dataset.operation); return ops.length > 0 && ops.every(o => o === "messages/add"); })()`)
	b.submit("clear the journal", "[data-testid=requests-clear]")
	b.eventually("an empty journal", `document.querySelector("[data-testid=request-empty]") !== null`)
	if got := site.call("/_admin/v1/requests/count", obj{}, true)["Count"]; got != 0.0 {
		t.Errorf("requests/count after clearing in the console: %v", got)
	}

	// Usable: every control is labelled and reachable from the keyboard,
	// and a narrow window needs no horizontal scrolling.
	for _, path := range []string{"/console/", "/console/threads/" + xss, "/console/webhooks", "/console/requests", "/console/controls"} {
		b.do("open "+path, chromedp.Navigate(site.ts.URL+path))
		b.eventually(path, `document.querySelector("[data-testid=live-status]") !== null`)
		if got := b.eval(`Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).filter(e => e.labels.length === 0).map(e => e.outerHTML).join(" ")`); got != "" {
			t.Errorf("%s: controls without a label: %s", path, got)
		}
		if got := b.eval(`Array.from(document.querySelectorAll("a, button, input:not([type=hidden]), select, textarea, summary")).filter(e => e.tabIndex < 0 || e.disabled).map(e => e.outerHTML).join(" ")`); got != "" {
			t.Errorf("%s: controls out of the keyboard's reach: %s", path, got)
		}
	}
	b.do("a narrow window", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/console/", "/console/threads/" + xss, "/console/webhooks", "/console/requests", "/console/controls"} {
		b.do("open "+path, chromedp.Navigate(site.ts.URL+path))
		b.eventually(path+" in a narrow window", `document.querySelector("[data-testid=live-status]") !== null`)
		if got := b.eval(`String(document.documentElement.scrollWidth - document.documentElement.clientWidth)`); got != "0" {
			wide := b.eval(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`)
			t.Errorf("%s in a 390 px window scrolls sideways by %s px: %s", path, got, wide)
		}
	}

	if got := b.eval(`String(window.__xss)`); got != "undefined" {
		t.Errorf("an injected script ran: window.__xss = %s", got)
	}
	b.checkOffline(site.ts.URL)
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

// waitWebhook waits for the delivery that announces message id.
func waitWebhook(t *testing.T, bodies <-chan []byte, id string) {
	t.Helper()
	deadline := time.After(time.Until(testwait.Deadline(t)))
	for {
		select {
		case b := <-bodies:
			if strings.Contains(string(b), fmt.Sprintf(`"Id":%q`, id)) {
				return
			}
		case <-deadline:
			t.Fatalf("no webhook announced message %s", id)
		}
	}
}
