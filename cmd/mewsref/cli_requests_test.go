package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/server"
)

// syncBuffer is a bytes.Buffer that a command may write while the test
// reads; wrote, if set, is signalled at every write.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		select {
		case s.wrote <- struct{}{}:
		default:
		}
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func requestsEnv(t *testing.T) (run func(ctx context.Context, out *syncBuffer, args ...string) error) {
	h, closeFn, err := server.New(server.Config{AdminToken: "cli-admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ts := httptest.NewServer(apitest.NewValidator(t).Handler(t, h))
	t.Cleanup(ts.Close)
	env := map[string]string{"MEWSREF_URL": ts.URL, "MEWSREF_ADMIN_TOKEN": "cli-admin"}
	return func(ctx context.Context, out *syncBuffer, args ...string) error {
		var errOut bytes.Buffer
		return dispatch(ctx, args, func(k string) string { return env[k] }, out, &errOut)
	}
}

// journalTraffic makes three requests through the CLI: two threads added
// (200) and a message to an unknown thread (400).
func journalTraffic(t *testing.T, run func(ctx context.Context, out *syncBuffer, args ...string) error) {
	t.Helper()
	for _, subject := range []string{"one", "two"} {
		if err := run(t.Context(), &syncBuffer{}, "thread", "add", "--subject", subject, "--sender", "John Doe"); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(t.Context(), &syncBuffer{}, "message", "post", "--thread", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--text", "x"); err == nil {
		t.Fatal("a message to an unknown thread was accepted")
	}
}

func TestCLIRequests(t *testing.T) {
	run := requestsEnv(t)
	ctx := t.Context()
	journalTraffic(t, run)

	out := &syncBuffer{}
	if err := run(ctx, out, "requests"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "RECEIVED") ||
		!strings.Contains(lines[1], "messageThreads/add") || !strings.Contains(lines[3], "400") ||
		!strings.Contains(lines[3], "messages/add") || !strings.Contains(lines[3], "Invalid MessageThreadId") ||
		!strings.Contains(lines[1], "C66E…453D") {
		t.Errorf("requests, oldest first:\n%s", out)
	}
	for _, tok := range allDemoTokens() {
		if strings.Contains(out.String(), tok) {
			t.Errorf("the table shows a full token:\n%s", out)
		}
	}

	out = &syncBuffer{}
	if err := run(ctx, out, "requests", "--json", "--status", "200", "--op", "messageThreads/add,messages/add", "--count", "1"); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Operation string
		Status    int
	}
	if err := json.Unmarshal([]byte(out.String()), &e); err != nil || e.Operation != "messageThreads/add" || e.Status != 200 ||
		strings.Count(out.String(), "\n") != 1 {
		t.Errorf("requests --json --count 1: %v\n%s", err, out)
	}

	// --integration takes names as well as IntegrationIds.
	out = &syncBuffer{}
	if err := run(ctx, out, "requests", "--integration", "are you ready to integrate with mews?", "--op", "messageThreads/add"); err != nil ||
		strings.Count(out.String(), "messageThreads/add") != 2 {
		t.Errorf("requests --integration NAME: %v\n%s", err, out)
	}
	out = &syncBuffer{}
	if err := run(ctx, out, "requests", "--integration", "Connector API Test Client 2"); err != nil || !strings.Contains(out.String(), "no requests recorded") {
		t.Errorf("requests --integration of another integration: %v\n%s", err, out)
	}

	if err := run(ctx, &syncBuffer{}, "requests", "--status", "600"); exitCode(err, &bytes.Buffer{}) != 2 {
		t.Errorf("--status 600: %v", err)
	}
	if err := run(ctx, &syncBuffer{}, "requests", "--since", "yesterday"); exitCode(err, &bytes.Buffer{}) != 2 {
		t.Errorf("--since yesterday: %v", err)
	}
}

func TestCLIRequestsFollow(t *testing.T) {
	run := requestsEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out, "requests", "--follow", "--json", "--interval", "10ms") }()
	for _, subject := range []string{"first", "second"} {
		if err := run(t.Context(), &syncBuffer{}, "thread", "add", "--subject", subject, "--sender", "A"); err != nil {
			t.Fatal(err)
		}
	}
	waitFollow(t, out, done, func(s string) bool { return strings.Count(s, "\n") >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow, interrupted: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "first") || !strings.Contains(lines[1], "second") {
		t.Errorf("follow printed each request once, oldest first:\n%s", out)
	}
}

// --follow with --count prints the newest entries and then only new ones,
// not the older entries that --count left out.
func TestCLIRequestsFollowPrintsOnlyNewEntries(t *testing.T) {
	run := requestsEnv(t)
	for _, subject := range []string{"old", "newest"} {
		if err := run(t.Context(), &syncBuffer{}, "thread", "add", "--subject", subject, "--sender", "A"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out, "requests", "--follow", "--json", "--count", "1", "--interval", "10ms") }()
	waitFollow(t, out, done, func(s string) bool { return strings.Contains(s, "newest") })
	if err := run(t.Context(), &syncBuffer{}, "thread", "add", "--subject", "arrived", "--sender", "A"); err != nil {
		t.Fatal(err)
	}
	waitFollow(t, out, done, func(s string) bool { return strings.Contains(s, "arrived") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow, interrupted: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "newest") || !strings.Contains(lines[1], "arrived") {
		t.Errorf("follow --count 1 printed the newest entry, then the new one only:\n%s", out)
	}
}

// waitFollow waits until what requests --follow printed to out satisfies
// printed, failing t if the command ends first or the test's wait deadline
// (testwait.Deadline) passes.
func waitFollow(t *testing.T, out *syncBuffer, done <-chan error, printed func(string) bool) {
	t.Helper()
	deadline := time.After(time.Until(testwait.Deadline(t)))
	for !printed(out.String()) {
		select {
		case err := <-done:
			t.Fatalf("follow ended: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("follow printed, by the test's wait deadline:\n%s", out)
		case <-out.wrote:
		}
	}
}

func allDemoTokens() []string {
	var out []string
	for _, in := range server.DemoIntegrations() {
		out = append(out, in.ClientToken)
		for _, at := range in.AccessTokens {
			out = append(out, at.Token)
		}
	}
	return out
}

// A --count out of range is a usage error before anything is asked of the
// server (here none answers), and --since without the server's clock says
// that it counts back from this machine's.
func TestCLIRequestsChecksItsFlagsFirst(t *testing.T) {
	env := map[string]string{"MEWSREF_URL": "http://127.0.0.1:9", "MEWSREF_ADMIN_TOKEN": "cli-admin"}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	err := dispatch(t.Context(), []string{"requests", "--count", "0", "--integration", "Somebody", "--since", "10m"}, getenv, &out, &errOut)
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--count") {
		t.Errorf("requests --count 0 with no server: %v, want the usage error of --count", err)
	}
	c := &cli{ctx: t.Context(), getenv: getenv, out: &out, errOut: &errOut, url: env["MEWSREF_URL"], adminToken: "cli-admin"}
	if now := c.now(); time.Since(now).Abs() > time.Minute || !strings.Contains(errOut.String(), "this machine's clock") {
		t.Errorf("now without the server: %v; stderr %q, want this machine's clock and a warning", now, errOut.String())
	}
}

// Every --count sent as the admin API's int32 Count is checked against its
// 1..1000 first: 2^32+5 would wrap to 5, and no server is asked (none
// answers here).
func TestCLICountsOutOfRangeAreUsageErrors(t *testing.T) {
	env := map[string]string{"MEWSREF_URL": "http://127.0.0.1:9", "MEWSREF_ADMIN_TOKEN": "cli-admin"}
	getenv := func(k string) string { return env[k] }
	for _, args := range [][]string{
		{"requests", "--count", "4294967301"},
		{"threads", "search", "--enterprise", "851df8c8-90f2-4c4a-8e01-a4fc46b25178", "--count", "4294967301"},
		{"threads", "search", "--enterprise", "851df8c8-90f2-4c4a-8e01-a4fc46b25178", "--count", "1001"},
		{"deliveries", "--count", "4294967301"},
		{"deliveries", "--count", "0"},
	} {
		var out, errOut bytes.Buffer
		err := dispatch(t.Context(), args, getenv, &out, &errOut)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--count must be between 1 and 1000") {
			t.Errorf("%v with no server: %v, want the usage error of --count", args, err)
		}
	}
}

// requests count and requests clear are requests/count and requests/clear,
// with the filters of requests.
func TestCLIRequestsCountAndClear(t *testing.T) {
	run := requestsEnv(t)
	ctx := t.Context()
	journalTraffic(t, run)
	count := func(args ...string) (n, dropped int64) {
		t.Helper()
		out := &syncBuffer{}
		if err := run(ctx, out, append([]string{"requests", "count", "--json"}, args...)...); err != nil {
			t.Fatalf("requests count %v: %v", args, err)
		}
		var res struct{ Count, Dropped *int64 }
		if err := json.Unmarshal([]byte(out.String()), &res); err != nil || res.Count == nil || res.Dropped == nil {
			t.Fatalf("requests count %v: %v\n%s", args, err, out)
		}
		return *res.Count, *res.Dropped
	}
	if n, dropped := count(); n != 3 || dropped != 0 {
		t.Errorf("requests count: %d (dropped %d), want 3 (0)", n, dropped)
	}
	for _, flag := range []string{"--operation", "--op"} {
		if n, _ := count(flag, "messageThreads/add", "--status", "200"); n != 2 {
			t.Errorf("requests count %s messageThreads/add --status 200: %d, want 2", flag, n)
		}
	}
	if n, _ := count("--status", "400", "--integration", "are you ready to integrate with mews?"); n != 1 {
		t.Errorf("requests count --status 400 --integration NAME: %d, want 1", n)
	}
	out := &syncBuffer{}
	if err := run(ctx, out, "requests", "count", "--op", "messages/add"); err != nil ||
		!regexp.MustCompile(`(?m)^COUNT\s+DROPPED\n1\s+0$`).MatchString(strings.TrimSpace(out.String())) {
		t.Errorf("requests count, the table: %v\n%s", err, out)
	}
	if err := run(ctx, &syncBuffer{}, "requests", "count", "--status", "600"); exitCode(err, &bytes.Buffer{}) != 2 ||
		!strings.Contains(err.Error(), "--status") {
		t.Errorf("requests count --status 600: %v, want a usage error", err)
	}

	out = &syncBuffer{}
	if err := run(ctx, out, "requests", "clear"); err != nil || !strings.Contains(out.String(), "empty") {
		t.Fatalf("requests clear: %v\n%s", err, out)
	}
	if n, _ := count(); n != 0 {
		t.Errorf("requests count after requests clear: %d, want 0", n)
	}
	if err := run(ctx, &syncBuffer{}, "requests", "clear", "--op", "messages/add"); exitCode(err, &bytes.Buffer{}) != 2 {
		t.Errorf("requests clear takes no filter: %v", err)
	}
}
