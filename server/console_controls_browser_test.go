package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mewsref/mewsref/server"
)

// TestConsoleControlsInChromium makes the next call fail and moves the test
// clock from the console's page, and checks both through the API. The
// request journal is off: its entries refresh the page too, and the rule's
// count must follow its own strikes.
func TestConsoleControlsInChromium(t *testing.T) {
	exe := chromium(t)
	site := newConsoleSiteWith(t, server.Config{Journal: -1})
	b := newBrowser(t, exe, 1280, 900)
	b.do("open", chromedp.Navigate(site.ts.URL+"/console/signin"))
	b.do("type the token", chromedp.SendKeys(chromedp.CSS("[data-testid=signin-token]"), adminToken))
	b.submit("sign in", "[data-testid=signin-submit]")
	b.do("controls", chromedp.Navigate(site.ts.URL+"/console/controls"))
	b.eventually("the controls", `document.querySelector("[data-testid=fault-empty]") !== null && document.querySelector("[data-testid=clock-mode]").textContent === "real"`)

	// A rule: the next two messageThreads/add are answered 503. The page
	// shows what is left of it as requests use it up, without a reload.
	b.eventually("live", `document.querySelector("[data-testid=live-status]").textContent === "live"`)
	b.do("choose", chromedp.SetValue(chromedp.CSS("[data-testid=fault-operation]"), "messageThreads/add"),
		chromedp.SetValue(chromedp.CSS("[data-testid=fault-status]"), "503"),
		chromedp.SetValue(chromedp.CSS("[data-testid=fault-count]"), "2"),
		chromedp.SendKeys(chromedp.CSS("[data-testid=fault-message]"), `Down for "maintenance" <b>now</b>`))
	b.submit("add the rule", "[data-testid=fault-add]")
	b.eventually("the rule", `document.querySelectorAll("[data-testid=fault-row]").length === 1 && document.querySelector("[data-testid=live-status]").textContent === "live"`)
	if got := b.eval(`document.querySelector("[data-testid=fault-remaining]").textContent`); got != "2 of 2" {
		t.Errorf("a new rule left %q, want 2 of 2", got)
	}
	struck := func() {
		t.Helper()
		raw, _ := json.Marshal(demo("OriginalSender", "Guest", "Subject", "Struck"))
		req, _ := http.NewRequest(http.MethodPost, site.ts.URL+pathThreadsAdd, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		res, err := site.api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 503 {
			t.Errorf("messageThreads/add under the rule: %d, want 503", res.StatusCode)
		}
	}
	struck()
	b.eventually("one strike left, live", `document.querySelector("[data-testid=fault-remaining]").textContent === "1 of 2"`)
	if got := b.eval(`document.querySelector("[data-testid=fault-answer]").textContent`); !strings.Contains(got, "503") || !strings.Contains(got, `Down for "maintenance" <b>now</b>`) {
		t.Errorf("rule shown after the live update as %q", got)
	}
	if n := b.eval(`String(document.querySelectorAll("[data-testid=fault-answer] b").length)`); n != "0" {
		t.Errorf("the rule's message became markup: %s <b> elements", n)
	}
	struck()
	b.eventually("the rule used up, live", `document.querySelectorAll("[data-testid=fault-row]").length === 0 || document.querySelector("[data-testid=fault-remaining]").textContent.startsWith("0 ")`)
	site.addThread("Guest", "Answered again") // the rule struck twice
	b.submit("remove the rules", "[data-testid=faults-clear]")
	b.eventually("no rules", `document.querySelector("[data-testid=fault-empty]") !== null`)

	// The clock: frozen at an instant, advanced an hour; new threads follow.
	b.do("instant", chromedp.SendKeys(chromedp.CSS("[data-testid=clock-set-input]"), "2030-01-02T03:04:05Z"))
	b.submit("freeze", "[data-testid=clock-freeze]")
	b.eventually("frozen", `document.querySelector("[data-testid=clock-mode]").textContent === "frozen" && document.querySelector("[data-testid=clock-now]").getAttribute("datetime").startsWith("2030-01-02T03:04:05")`)
	b.submit("advance", "[data-testid=clock-advance]") // the default, 3600 s
	b.eventually("an hour later", `document.querySelector("[data-testid=clock-now]").getAttribute("datetime").startsWith("2030-01-02T04:04:05")`)
	th := site.call(pathThreadsAdd, demo("OriginalSender", "Guest", "Subject", "In the future"), false)["MessageThreads"].([]any)[0].(obj)
	if th["CreatedUtc"] != "2030-01-02T04:04:05Z" {
		t.Errorf("a thread added on the frozen clock was created %v", th["CreatedUtc"])
	}
	b.submit("release", "[data-testid=clock-release]")
	b.eventually("running", `document.querySelector("[data-testid=clock-mode]").textContent === "real"`)
	if got := site.call("/_admin/v1/clock/get", obj{}, true)["Mode"]; got != "real" {
		t.Errorf("clock/get after release: %v", got)
	}
	b.checkOffline(site.ts.URL)
}

// TestConsoleControlsFollowOtherTabsInChromium: rules and the clock changed
// elsewhere (another tab, a test through the admin API) show on an open
// controls page without a reload.
func TestConsoleControlsFollowOtherTabsInChromium(t *testing.T) {
	exe := chromium(t)
	site := newConsoleSite(t)
	b := newBrowser(t, exe, 1280, 900)
	b.do("open", chromedp.Navigate(site.ts.URL+"/console/signin"))
	b.do("type the token", chromedp.SendKeys(chromedp.CSS("[data-testid=signin-token]"), adminToken))
	b.submit("sign in", "[data-testid=signin-submit]")
	b.do("controls", chromedp.Navigate(site.ts.URL+"/console/controls"))
	b.eventually("live", `document.querySelector("[data-testid=live-status]").textContent === "live"`)
	site.call("/_admin/v1/faults/add", obj{"Operation": "messages/add", "Status": 500}, true)
	b.eventually("the rule", `document.querySelectorAll("[data-testid=fault-row]").length === 1`)
	site.call("/_admin/v1/clock/set", obj{"NowUtc": "2030-01-02T03:04:05Z"}, true)
	b.eventually("frozen", `document.querySelector("[data-testid=clock-mode]").textContent === "frozen" && document.querySelector("[data-testid=clock-release]") !== null`)
	site.call("/_admin/v1/faults/clear", obj{}, true)
	site.call("/_admin/v1/clock/release", obj{}, true)
	b.eventually("cleared and running", `document.querySelector("[data-testid=fault-empty]") !== null && document.querySelector("[data-testid=clock-mode]").textContent === "real" && document.querySelector("[data-testid=clock-release]") === null`)
}
