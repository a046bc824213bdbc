package server_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mewsref/mewsref/internal/testwait"
)

// operationSummaries are the summaries of the four operations in the spec;
// Redoc renders each as the heading of its section.
var operationSummaries = []string{"Get all message threads", "Add message thread", "Get all messages", "Add messages"}

// chromium finds the browser for the end-to-end test of /docs. With
// MEWSREF_CHROMIUM set (CI sets it) a missing browser is a failure, so that
// the test cannot silently skip there; otherwise the test skips.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MEWSREF_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("MEWSREF_CHROMIUM: %v", err)
		}
		return p
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no Chromium here: apt-get install chromium (or set MEWSREF_CHROMIUM to its path) to run the browser test of /docs")
	return ""
}

// startChromium starts a headless Chromium tab of the given window size,
// closed when the test ends. Its context ends a little after the test's
// waits (testwait.Deadline), so that a wait that failed can still read the
// page. The flags keep Chromium off the network on its own account
// (updates, sync, QUIC probes): on a closed network those fail noisily and
// slowly.
func startChromium(t *testing.T, exe string, width, height int) context.Context {
	t.Helper()
	waits := testwait.Deadline(t)
	end := waits.Add(10 * time.Second)
	if d, ok := t.Deadline(); ok && d.Before(end) {
		end = d
	}
	ctx, cancel := context.WithDeadline(t.Context(), end)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(width, height),
		// The start of Chromium is a wait like the others (chromedp's
		// default: 20 s).
		chromedp.WSURLReadTimeout(time.Until(waits)),
	)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

// pageLog collects what the page did, from the browser's event loop.
type pageLog struct {
	mu         sync.Mutex
	requests   map[network.RequestID]string // URL of each request
	blocked    map[network.RequestID]string // why the browser refused it
	exceptions []string
}

func (l *pageLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		l.requests[ev.RequestID] = ev.Request.URL
	case *network.EventLoadingFailed:
		if ev.BlockedReason != "" {
			l.blocked[ev.RequestID] = string(ev.BlockedReason)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		what := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			what += " " + d.Exception.Description
		}
		l.exceptions = append(l.exceptions, fmt.Sprintf("%s (%s:%d)", what, d.URL, d.LineNumber+1))
	}
}

// TestDocsRenderInChromium opens /docs in headless Chromium and checks that
// Redoc renders the four operations from the server's own spec, without a
// script error and without fetching anything from another host.
func TestDocsRenderInChromium(t *testing.T) {
	exe := chromium(t)
	ts := docsServer(t)
	text := renderInChromium(t, exe, ts.URL, "/docs", "/openapi.yaml", operationSummaries)
	for _, s := range append(operationSummaries, "MessageThreadIds", "Request-Id") {
		if !strings.Contains(text, s) {
			t.Errorf("the page does not show %q", s)
		}
	}
	if strings.Contains(text, "Admin API") {
		t.Error("/docs links to the admin API, which is off")
	}
}

// With the admin API on, /docs/admin renders admin.yaml the same way, and
// the messaging page links to it.
func TestAdminDocsRenderInChromium(t *testing.T) {
	exe := chromium(t)
	ts := adminDocsServer(t)
	summaries := []string{"Reply as the enterprise", "Resolve or reopen a thread", "Set the webhook URLs of an integration", "Delete all data"}
	text := renderInChromium(t, exe, ts.URL, "/docs/admin", "/openapi/admin.yaml", summaries)
	if !strings.Contains(text, "Messaging API") || !strings.Contains(text, "AdminToken") && !strings.Contains(text, "Bearer") {
		t.Errorf("the admin page lacks the link back or the bearer scheme:\n%.1500s", text)
	}
	text = renderInChromium(t, exe, ts.URL, "/docs", "/openapi.yaml", operationSummaries)
	if !strings.Contains(text, "Admin API") {
		t.Error("/docs does not link to the admin API")
	}
}

// renderInChromium opens path and waits until Redoc has rendered every
// heading of summaries from specPath; it fails on script errors and on
// loads from other hosts, and returns the page's text.
func renderInChromium(t *testing.T, exe, base, path, specPath string, summaries []string) string {
	t.Helper()

	ctx := startChromium(t, exe, 1280, 1000)
	log := &pageLog{requests: map[network.RequestID]string{}, blocked: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, log.listen); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+path)); err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}

	// Redoc fetches the spec and renders it after the load event: wait
	// until every operation has its heading.
	const headings = `Array.from(document.querySelectorAll("h1, h2, h3"), e => e.textContent.trim())`
	want := `["` + strings.Join(summaries, `", "`) + `"]`
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
		`(() => { const h = `+headings+`; return `+want+`.every(s => h.includes(s)); })()`,
		chromedp.WithPollingTimeout(time.Until(testwait.Deadline(t)))))
	if err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the operations were not rendered: %v\npage text:\n%.2000s", err, text)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("MEWSREF_DOCS_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err == nil {
			err = os.WriteFile(path, png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}

	log.mu.Lock()
	defer log.mu.Unlock()
	for _, e := range log.exceptions {
		t.Errorf("script error on the page: %s", e)
	}
	own, _ := url.Parse(base)
	fetchedSpec := false
	for id, raw := range log.requests {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "data" || u.Scheme == "blob" {
			continue
		}
		if u.Host == own.Host {
			fetchedSpec = fetchedSpec || u.Path == specPath
			continue
		}
		if why, ok := log.blocked[id]; ok {
			t.Logf("the browser blocked a request to another host (%s): %s", why, raw)
			continue
		}
		t.Errorf("the page loaded %s from another host; it must work offline", raw)
	}
	if !fetchedSpec {
		t.Errorf("the page did not load %s", specPath)
	}
	return text
}
