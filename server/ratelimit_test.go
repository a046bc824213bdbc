package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
)

// getThreads is a cheap authenticated request of the demo integration with
// access token access.
func (e *env) getThreads(access string) response {
	e.t.Helper()
	return e.post(pathThreadsGetAll, creds(demoClient, access,
		"UpdatedUtc", obj{"StartUtc": "2022-03-01T00:00:00Z", "EndUtc": "2022-03-31T00:00:00Z"},
		"Limitation", limitation(1, nil)))
}

// expectLimited checks a 429 of the rate limit: Retry-After in whole
// seconds, the Mews error body (validated by the env) with null Details.
func (e *env) expectLimited(r response, retryAfter string) {
	e.t.Helper()
	if r.status != 429 {
		e.t.Fatalf("want 429, got %d %s", r.status, r.raw)
	}
	if got := r.header.Get("Retry-After"); got != retryAfter {
		e.t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	if d, ok := r.body["Details"]; !ok || d != nil {
		e.t.Errorf("Details %v, want null", d)
	}
	if msg, _ := r.body["Message"].(string); !strings.Contains(msg, "retry after "+retryAfter+" second") {
		e.t.Errorf("Message %q does not say the wait", msg)
	}
}

func TestRateLimitSlidingWindow(t *testing.T) {
	e := newEnv(t, server.Config{RateLimit: &server.RateLimit{Requests: 3, Window: 30 * time.Second}})
	start := e.clock.Now()
	at := func(d time.Duration) { // moves the fake clock to start+d
		e.clock.Advance(start.Add(d).Sub(e.clock.Now()))
	}
	// Requests at 0s, 10s and 20s fill the window.
	for _, d := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		at(d)
		if r := e.getThreads(demoGross); r.status != 200 {
			t.Fatalf("at %s: %d %s", d, r.status, r.raw)
		}
	}
	// At 25s the oldest (0s) leaves the window at 30s: 5 seconds.
	at(25 * time.Second)
	e.expectLimited(e.getThreads(demoGross), "5")
	// Part of a second is rounded up, so that waiting as told is enough.
	at(29*time.Second + 500*time.Millisecond)
	e.expectLimited(e.getThreads(demoGross), "1")
	// Refused requests do not count: at 30s one slot is free again.
	at(30 * time.Second)
	if r := e.getThreads(demoGross); r.status != 200 {
		t.Fatalf("at 30s: %d %s", r.status, r.raw)
	}
	// Now the window holds 10s, 20s, 30s; the next slot frees at 40s.
	e.expectLimited(e.getThreads(demoGross), "10")
	at(40*time.Second - time.Nanosecond)
	e.expectLimited(e.getThreads(demoGross), "1")
	at(40 * time.Second)
	if r := e.getThreads(demoGross); r.status != 200 {
		t.Fatalf("at 40s: %d %s", r.status, r.raw)
	}
}

func TestRateLimitIsPerAccessToken(t *testing.T) {
	e := newEnv(t, server.Config{RateLimit: &server.RateLimit{Requests: 2, Window: 30 * time.Second}})
	for range 2 {
		if r := e.getThreads(demoGross); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	e.expectLimited(e.getThreads(demoGross), "30")
	// Another access token of the same integration has its own window.
	if r := e.getThreads(demoNet); r.status != 200 {
		t.Fatalf("other access token: %d %s", r.status, r.raw)
	}
	// Every operation counts, writes too.
	r := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b"))
	e.expectLimited(r, "30")
}

func TestRateLimitCountsOnlyAuthenticatedRequests(t *testing.T) {
	e := newEnv(t, server.Config{RateLimit: &server.RateLimit{Requests: 1, Window: time.Minute}})
	// Unknown tokens and invalid bodies are refused before the limit.
	for range 3 {
		if r := e.post(pathThreadsGetAll, creds(demoClient, "not-a-token", "MessageThreadIds", []string{}, "Limitation", limitation(1, nil))); r.status != 400 {
			t.Fatalf("invalid request: %d %s", r.status, r.raw)
		}
		if r := e.getThreads("not-a-token-of-this-client"); r.status != 401 {
			t.Fatalf("unknown token: %d %s", r.status, r.raw)
		}
	}
	if r := e.getThreads(demoGross); r.status != 200 {
		t.Fatalf("first request of the token: %d %s", r.status, r.raw)
	}
	e.expectLimited(e.getThreads(demoGross), "60")
}

func TestRateLimitOffByDefault(t *testing.T) {
	e := newEnv(t, server.Config{})
	for i := range 250 {
		if r := e.getThreads(demoGross); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.raw)
		}
	}
}

func TestParseRateLimit(t *testing.T) {
	rl, err := server.ParseRateLimit("200/30s")
	if err != nil || rl != (server.RateLimit{Requests: 200, Window: 30 * time.Second}) {
		t.Fatalf("200/30s: %+v, %v", rl, err)
	}
	if rl.String() != "200/30s" {
		t.Errorf("String %q", rl.String())
	}
	for _, bad := range []string{"", "200", "200/", "/30s", "x/30s", "0/30s", "-1/30s", "200/0s", "200/-5s", "200/30"} {
		if _, err := server.ParseRateLimit(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if _, _, err := server.New(server.Config{RateLimit: &server.RateLimit{Requests: 0, Window: time.Second}}); err == nil {
		t.Error("New accepted a rate limit of 0 requests")
	}
}
