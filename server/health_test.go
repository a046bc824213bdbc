package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

func healthGet(t *testing.T, ts *httptest.Server, path string) (int, server.Health) {
	t.Helper()
	res, body := get(t, ts.URL+path, nil) // checks the Request-Id
	var h server.Health
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return res.StatusCode, h
}

func TestHealthAndReadiness(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	h, closeFn, err := server.New(server.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ts := apitest.Server(t, h)

	for _, path := range []string{server.PathHealthz, server.PathReadyz} {
		if status, body := healthGet(t, ts, path); status != 200 || body.Status != "ok" {
			t.Errorf("GET %s: %d %+v", path, status, body)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if status, body := healthGet(t, ts, server.PathReadyz); status != http.StatusServiceUnavailable || body.Status != "unavailable" || !strings.Contains(body.Reason, "the store failed its check") {
		t.Errorf("readyz on a closed store: %d %+v", status, body)
	}
	if status, _ := healthGet(t, ts, server.PathHealthz); status != 200 {
		t.Errorf("healthz on a closed store: %d, want 200 (the process serves)", status)
	}
}

// Probes are never refused by the rate limit or injected faults, and do not
// fill the info log.
func TestHealthIsNotRateLimitedFaultedOrLogged(t *testing.T) {
	faults, err := server.ParseFaults("*:500=1")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, closeFn, err := server.New(server.Config{
		RateLimit: &server.RateLimit{Requests: 1, Window: time.Minute},
		Faults:    faults,
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ts := apitest.Server(t, h)
	for range 5 {
		for _, path := range []string{server.PathHealthz, server.PathReadyz} {
			if status, body := healthGet(t, ts, path); status != 200 {
				t.Errorf("GET %s: %d %+v", path, status, body)
			}
		}
	}
	if strings.Contains(logs.String(), "healthz") || strings.Contains(logs.String(), "readyz") {
		t.Errorf("probes in the info log:\n%s", logs.String())
	}
	// The faults and the limit do apply to the API: the test would pass
	// for the wrong reason otherwise.
	raw, err := json.Marshal(demo("OriginalSender", "John Doe", "Subject", "s"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(ts.URL+pathThreadsAdd, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError {
		t.Errorf("the API answered %d, want the injected 500", res.StatusCode)
	}
}
