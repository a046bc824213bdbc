package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

func TestParseFaultsMergesOperationRulesOverStar(t *testing.T) {
	cfg, err := server.ParseFaults("messages/add:500=0.1,429=0.05;*:delay=200ms@0.2,408=0.01; messageThreads/add:delay=1s,retry-after=3s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]server.Faults{
		"*":                  {Timeout: 0.01, Delay: 200 * time.Millisecond, DelayShare: 0.2},
		"messages/add":       {Timeout: 0.01, Internal: 0.1, TooManyRequests: 0.05, Delay: 200 * time.Millisecond, DelayShare: 0.2},
		"messageThreads/add": {Timeout: 0.01, Delay: time.Second, DelayShare: 1, RetryAfter: 3 * time.Second},
	}
	if len(cfg.Operations) != len(want) {
		t.Fatalf("got %+v", cfg.Operations)
	}
	for op, f := range want {
		if cfg.Operations[op] != f {
			t.Errorf("%s: got %+v, want %+v", op, cfg.Operations[op], f)
		}
	}
	// String writes a form that ParseFaults reads back to the same.
	again, err := server.ParseFaults(cfg.String())
	if err != nil {
		t.Fatalf("re-parse %q: %v", cfg.String(), err)
	}
	for op, f := range want {
		if again.Operations[op] != f {
			t.Errorf("re-parsed %s: got %+v, want %+v", op, again.Operations[op], f)
		}
	}
}

func TestParseFaultsRefusesNonsense(t *testing.T) {
	for _, bad := range []string{
		"", ";", "messages/add", "messages/add:", "messages/ad:500=0.1", "messages/add:501=0.1",
		"messages/add:500=1.5", "messages/add:500=-0.1", "messages/add:500=NaN", "messages/add:500=x",
		"*:408=0.5,429=0.5,500=0.1", "*:delay=fast", "*:delay=1s@2", "*:delay=-1s", "*:retry-after=-1s",
		"*:500=0.1;*:429=0.1",
	} {
		if _, err := server.ParseFaults(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	if _, _, err := server.New(server.Config{Faults: &server.FaultConfig{Operations: map[string]server.Faults{"nope": {}}}}); err == nil {
		t.Error("New accepted faults of an unknown operation")
	}
	if _, _, err := server.New(server.Config{Faults: &server.FaultConfig{Operations: map[string]server.Faults{"*": {Internal: 2}}}}); err == nil {
		t.Error("New accepted a share of 2")
	}
}

func faultEnv(t *testing.T, spec string, seed uint64) *env {
	t.Helper()
	cfg, err := server.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = seed
	return newEnv(t, server.Config{Faults: cfg})
}

func expectInjected(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d, got %d %s", status, r.status, r.raw)
	}
	if msg, _ := r.body["Message"].(string); !strings.HasPrefix(msg, "Injected fault") {
		t.Errorf("Message %q does not say the fault was injected", msg)
	}
}

func TestInjectedFaultsAreRealErrorsAndChangeNothing(t *testing.T) {
	store, err := sqlite.Open(context.Background(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	faults, err := server.ParseFaults("messages/add:500=1;messageThreads/getAll:408=1;messages/getAll:429=1,retry-after=2500ms")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{Store: store, Faults: faults})
	clean := newEnv(t, server.Config{Store: store, Now: e.clock.Now}) // the same data, no faults

	th := e.addThread(demoClient, demoGross, "untouched") // no rule: never fails
	// The env validates each answer against the spec: Mews error body,
	// RequestId equal to the Request-Id header, Retry-After on the 429.
	r := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "lost"})
	expectInjected(t, r, 500)
	if r.body["Details"] != nil {
		t.Errorf("500 Details %v, want null", r.body["Details"])
	}
	expectInjected(t, e.getThreads(demoGross), 408)
	r = e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(10, nil)))
	expectInjected(t, r, 429)
	if got := r.header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After %q, want 3 (2.5s rounded up)", got)
	}
	// The injected 500 came before the write: nothing was added.
	r = clean.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(10, nil)))
	if r.status != 200 || len(r.body["Messages"].([]any)) != 0 {
		t.Errorf("after an injected 500 on messages/add: %d %s", r.status, r.raw)
	}
	// Invalid requests are answered as always: faults strike only requests
	// that would otherwise be served.
	r = e.post(pathMessagesAdd, demo("Messages", []any{}))
	if r.status != 400 {
		t.Errorf("invalid request under faults: %d %s", r.status, r.raw)
	}
}

func TestInjectedFaultsAreReproducibleBySeed(t *testing.T) {
	const spec = "*:408=0.2,429=0.2,500=0.2"
	statuses := func(seed uint64, interleave bool) string {
		e := faultEnv(t, spec, seed)
		var b strings.Builder
		for range 200 {
			fmt.Fprintf(&b, "%d ", e.getThreads(demoGross).status)
			if interleave {
				// Requests to another operation draw from its own
				// generator and do not shift this one's faults.
				e.post(pathMessagesGetAll, demo("MessageThreadIds", []string{"3fa85f64-5717-4562-b3fc-2c963f66afa6"}, "Limitation", limitation(1, nil)))
			}
		}
		return b.String()
	}
	a, b := statuses(42, false), statuses(42, true)
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if c := statuses(43, false); c == a {
		t.Error("another seed gave the same 200 faults")
	}
	for _, code := range []string{"200", "408", "429", "500"} {
		// Binomial(200, 0.2 or 0.4): far inside these bounds.
		if n := strings.Count(a, code+" "); n < 15 || n > 120 {
			t.Errorf("%s answered %d times of 200", code, n)
		}
	}
}

func TestInjectedDelay(t *testing.T) {
	e := faultEnv(t, "messageThreads/getAll:delay=60ms", 1)
	start := time.Now()
	if r := e.getThreads(demoGross); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("a delayed request took %s, less than the delay", took)
	}
	// A delay past the request timeout is the real API's 408.
	cfg, _ := server.ParseFaults("*:delay=1h")
	e = newEnv(t, server.Config{Faults: cfg, RequestTimeout: 50 * time.Millisecond})
	if r := e.getThreads(demoGross); r.status != 408 {
		t.Fatalf("delay past the request timeout: %d %s", r.status, r.raw)
	}
}
