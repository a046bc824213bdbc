package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
)

func TestRehearsalFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{
		"MEWSREF_RATE_LIMIT":  "200/30s",
		"MEWSREF_FAULTS":      "*:500=0.5",
		"MEWSREF_FAULTS_SEED": "42",
	}
	o, err := parseFlags([]string{"-faults", "messages/add:429=0.25,retry-after=2s"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.rateLimit == nil || *o.rateLimit != (server.RateLimit{Requests: 200, Window: 30 * time.Second}) {
		t.Errorf("rate limit %+v", o.rateLimit)
	}
	// The flag wins over the environment.
	if f, ok := o.faults.Operations["messages/add"]; !ok || f.TooManyRequests != 0.25 || f.RetryAfter != 2*time.Second || len(o.faults.Operations) != 1 {
		t.Errorf("faults %+v", o.faults)
	}
	if o.faultsSeed != 42 {
		t.Errorf("seed %d", o.faultsSeed)
	}

	o, err = parseFlags(nil, func(string) string { return "" })
	if err != nil || o.rateLimit != nil || o.faults != nil {
		t.Errorf("off by default: %+v, %v", o, err)
	}
	for name, value := range map[string]string{"MEWSREF_RATE_LIMIT": "200 per 30s", "MEWSREF_FAULTS": "messages/add:500=2"} {
		_, err := parseFlags(nil, func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: want an error naming it, got %v", name, value, err)
		}
	}
	if _, err := parseFlags([]string{"-rate-limit", "0/30s"}, func(string) string { return "" }); err == nil {
		t.Error("-rate-limit 0/30s accepted")
	}
}

func TestRehearsalSaysItIsOnAndPicksASeed(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	o, err := parseFlags([]string{"-faults", "*:408=0.1", "-rate-limit", "5/1s"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	rehearsal(o, log)
	if o.faults.Seed == 0 {
		t.Error("no seed drawn")
	}
	for _, want := range []string{"level=WARN msg=\"fault injection on", "faults_seed=", "rate_limit=5/1s"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	o.faultsSeed = 7
	rehearsal(o, log)
	if o.faults.Seed != 7 {
		t.Errorf("seed %d, want the given 7", o.faults.Seed)
	}
}

// TestHTTPServerTimeouts: every phase of a connection is bounded, and the
// 408 of the request budget can still be written before the write
// deadline cuts the connection.
func TestHTTPServerTimeouts(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, budget := range []time.Duration{0, time.Second, 5 * time.Minute} {
		srv := newHTTPServer(nil, budget, log)
		effective := budget
		if effective == 0 {
			effective = server.DefaultRequestTimeout
		}
		if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
			t.Errorf("budget %s: read-header %s, idle %s", budget, srv.ReadHeaderTimeout, srv.IdleTimeout)
		}
		if srv.ReadTimeout <= effective || srv.WriteTimeout <= effective+5*time.Second {
			t.Errorf("budget %s: read %s, write %s leave no time to answer 408", budget, srv.ReadTimeout, srv.WriteTimeout)
		}
	}
	srv := newHTTPServer(nil, -1, log)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.WriteTimeout != 0 {
		t.Errorf("no request budget: read-header %s, read %s, idle %s, write %s",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout, srv.WriteTimeout)
	}
}
