package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/server"
)

// hop is one request that reached a path of a redirecting receiver.
type hop struct {
	path, method, body string
}

// redirector answers each path with its status: a 3xx redirects to the
// next path of the chain, anything else is the answer. Every request is
// handed to hops.
func redirector(t *testing.T, answers map[string]int, next map[string]string) (*httptest.Server, chan hop) {
	hops := make(chan hop, 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hops <- hop{r.URL.Path, r.Method, string(body)}
		if to, ok := next[r.URL.Path]; ok {
			w.Header().Set("Location", to)
		}
		w.WriteHeader(answers[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	return srv, hops
}

func nextHop(t *testing.T, hops chan hop) hop {
	t.Helper()
	select {
	case h := <-hops:
		return h
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("no request reached the receiver")
		return hop{}
	}
}

// mewsEnv is a server with the mews profile on a frozen clock, whose queue
// is polled only when something wakes the dispatcher.
func mewsEnv(t *testing.T, opts server.WebhookOptions, url string) (*env, *clock.Clock, *logTap) {
	t.Helper()
	opts.Profile, opts.PollInterval = server.WebhookProfileMews, time.Hour
	c := clock.Frozen(time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC))
	tap := newLogTap("webhook attempt failed")
	e := newEnv(t, server.Config{Clock: c, AdminToken: adminToken, Logger: slog.New(tap), Webhooks: opts})
	e.wantStatus(e.admin("webhooks/set", obj{"IntegrationId": demoIntegrationID(t, e), "Urls": []string{url}}), 200)
	return e, c, tap
}

func (e *env) message(text string) string {
	e.t.Helper()
	th := e.addThread(demoClient, demoGross, "Profile")
	r := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": text})
	e.wantStatus(r, 200)
	return r.body["Messages"].([]any)[0].(obj)["Message"].(obj)["Id"].(string)
}

// The mews profile follows 307 and 308 with the same method and body, as
// the platform does.
func TestMewsProfileFollowsTemporaryAndPermanentRedirects(t *testing.T) {
	srv, hops := redirector(t, map[string]int{"/old": 307, "/moved": 308, "/hook": 204},
		map[string]string{"/old": "/moved", "/moved": "/hook"})
	e, _, _ := mewsEnv(t, server.WebhookOptions{}, srv.URL+"/old")
	id := e.message("redirected")
	var body string
	for _, want := range []string{"/old", "/moved", "/hook"} {
		h := nextHop(t, hops)
		if h.path != want || h.method != http.MethodPost || !strings.Contains(h.body, id) {
			t.Fatalf("request %+v, want a POST of the webhook of %s to %s", h, id, want)
		}
		if body != "" && h.body != body {
			t.Errorf("the body changed on the way: %q, then %q", body, h.body)
		}
		body = h.body
	}
	eventually(t, "the delivery recorded as delivered", func() bool {
		d := e.deliveries()[0]
		return d["Status"] == "Delivered" && d["LastStatusCode"] == 204.0
	})
}

// Any other redirect is not followed: the 302 is the answer, a failure,
// retried a few minutes later.
func TestMewsProfileDoesNotFollowOtherRedirects(t *testing.T) {
	srv, hops := redirector(t, map[string]int{"/old": 302, "/hook": 204}, map[string]string{"/old": "/hook"})
	e, c, tap := mewsEnv(t, server.WebhookOptions{}, srv.URL+"/old")
	e.message("not followed")
	if h := nextHop(t, hops); h.path != "/old" {
		t.Fatalf("first request to %s", h.path)
	}
	tap.wait(t)
	d := e.deliveries()[0]
	if d["Status"] != "Pending" || d["LastStatusCode"] != 302.0 || d["Attempts"] != 1.0 {
		t.Fatalf("delivery %v, want a failed attempt answered 302, to be retried", d)
	}
	checkRetryAt(t, d, c.Now(), 1)
	select {
	case h := <-hops:
		t.Fatalf("the redirect was followed to %s", h.path)
	default:
	}
}

// checkRetryAt checks that d is due again MewsBackoff(n) after at: 2^n
// minutes ±10 %.
func checkRetryAt(t *testing.T, d obj, at time.Time, n int) {
	t.Helper()
	next, err := time.Parse(time.RFC3339, d["NextAttemptUtc"].(string))
	if err != nil {
		t.Fatalf("NextAttemptUtc %v: %v", d["NextAttemptUtc"], err)
	}
	base := time.Minute << n
	if wait := next.Sub(at); wait < base*9/10-time.Second || wait > base*11/10 {
		t.Errorf("attempt %d: next attempt %s after the failure, want %s ±10 %%", n, wait, base)
	}
}

// A receiver that keeps failing gets the message again after 2, 4, 8 and
// 16 minutes of the clock, 5 attempts in all; then it is discarded
// (Failed) and never sent again.
func TestMewsProfileRetriesAfterMinutesThenDiscards(t *testing.T) {
	srv, hops := redirector(t, map[string]int{"/hook": 503}, nil)
	e, c, tap := mewsEnv(t, server.WebhookOptions{}, srv.URL+"/hook")
	id := e.message("keeps failing")
	for n := 1; n <= server.MewsMaxAttempts; n++ {
		if h := nextHop(t, hops); !strings.Contains(h.body, id) {
			t.Fatalf("attempt %d: body %s", n, h.body)
		}
		tap.wait(t)
		d := e.deliveries()[0]
		if d["Attempts"] != float64(n) {
			t.Fatalf("attempt %d: delivery %v", n, d)
		}
		if n == server.MewsMaxAttempts {
			if d["Status"] != "Failed" || d["NextAttemptUtc"] != nil {
				t.Fatalf("after %d attempts: %v, want it discarded", n, d)
			}
			break
		}
		checkRetryAt(t, d, c.Now(), n)
		if _, err := c.Advance(t.Context(), 20*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Advance(t.Context(), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// The next request to arrive is a new message's, not the discarded one.
	other := e.message("another")
	if h := nextHop(t, hops); !strings.Contains(h.body, other) {
		t.Fatalf("after the discard, a request with %s, want the new message %s", h.body, other)
	}
}

// The receiver must answer within 5 s: one that takes longer has its
// request cut off, and the attempt failed.
func TestMewsProfileAnswerDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s deadline")
	}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers in time
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	e, c, tap := mewsEnv(t, server.WebhookOptions{}, srv.URL)
	e.message("too slow")
	rec := tap.wait(t)
	d := e.deliveries()[0]
	if d["Status"] != "Pending" || d["LastStatusCode"] != nil || !strings.Contains(d["LastError"].(string), "no answer within 5s") {
		t.Fatalf("delivery %v (log %v), want a timed-out attempt", d, rec.Message)
	}
	checkRetryAt(t, d, c.Now(), 1)
}

// With a lag, a delivery is held back until that long after its message,
// on the clock, and then sent at once.
func TestWebhookLagHoldsDeliveriesBack(t *testing.T) {
	srv, hops := redirector(t, map[string]int{"/hook": 204}, nil)
	e, c, _ := mewsEnv(t, server.WebhookOptions{Lag: 3 * time.Minute}, srv.URL+"/hook")
	id := e.message("held back")
	eventually(t, "the delivery held back", func() bool {
		d := e.deliveries()[0]
		return d["NextAttemptUtc"] == "2030-05-01T12:03:00Z" && d["Attempts"] == 0.0
	})
	select {
	case h := <-hops:
		t.Fatalf("sent during the lag: %+v", h)
	default:
	}
	if _, err := c.Advance(t.Context(), 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if h := nextHop(t, hops); !strings.Contains(h.body, id) {
		t.Fatalf("after the lag: %+v", h)
	}
}

func TestWebhookProfileMustBeKnown(t *testing.T) {
	_, _, err := server.New(server.Config{AdminToken: adminToken, Webhooks: server.WebhookOptions{Profile: "slow"}})
	if err == nil || !strings.Contains(err.Error(), `"slow"`) {
		t.Errorf("got %v, want an error naming the profile", err)
	}
}
