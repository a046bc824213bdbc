package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/internal/testwait"
)

// cliFails runs a CLI subcommand that must fail and returns its stderr and
// exit status.
func cliFails(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("mewsref %s: %v, want a failure\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), ee.ExitCode()
}

// adminCall sends an admin operation to the binary and validates the
// response against admin.yaml.
func adminCall(t *testing.T, addr, token, op, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/_admin/v1/"+op, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if err := apitest.NewValidator(t).Check(req, res.StatusCode, res.Header, raw); err != nil {
		t.Errorf("response to %s violates admin.yaml: %v\n%s", op, err, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

const threadAddBody = `{` + demoCreds + `,"OriginalSender":"John Doe","Subject":"Late check-in"}`

// Fault rules and the clock on the real binary, through the CLI and over
// HTTP: -clock frozen stamps new threads; a rule fails exactly the next
// request and stores nothing; the rate limit's window passes only when the
// clock is advanced; a set to the past fails; release lets it run.
func TestFaultRulesAndClockOnTheBinary(t *testing.T) {
	bin := binary(t)
	const tok = "e2e-admin"
	p := start(t, bin, "-db", filepath.Join(t.TempDir(), "data.db"), "-admin-token", tok,
		"-clock", "frozen=2027-01-15T09:00:00Z", "-rate-limit", "2/30s")
	env := []string{"MEWSREF_URL=" + validated(t, p.addr), "MEWSREF_ADMIN_TOKEN=" + tok}

	var rule admin.AdminFaultRule
	cliJSON(t, bin, env, &rule, "faults", "add", "--operation", "messageThreads/add", "--status", "503")
	if rule.Remaining != 1 || rule.Status == nil || *rule.Status != 503 {
		t.Fatalf("faults add: %+v", rule)
	}
	status, body := post(t, p.addr, "messageThreads/add", threadAddBody)
	if status != 503 || !strings.Contains(body["Message"].(string), "fault rule") {
		t.Fatalf("struck request: %d %v", status, body)
	}
	status, body = post(t, p.addr, "messageThreads/add", threadAddBody)
	if status != 200 {
		t.Fatalf("after the rule: %d %v", status, body)
	}
	thread := body["MessageThreads"].([]any)[0].(map[string]any)
	if thread["CreatedUtc"] != "2027-01-15T09:00:00Z" {
		t.Errorf("CreatedUtc %v, want the frozen instant", thread["CreatedUtc"])
	}
	var rules admin.AdminFaultRulesResult
	cliJSON(t, bin, env, &rules, "faults", "getAll")
	if len(rules.FaultRules) != 1 || rules.FaultRules[0].Remaining != 0 {
		t.Fatalf("faults getAll: %+v", rules)
	}
	// The rule's request was not counted by the rate limit: one more is
	// admitted, then the window (2 in 30 s, on the frozen clock) is full.
	if status, _ := post(t, p.addr, "messageThreads/add", threadAddBody); status != 200 {
		t.Fatalf("second admitted request: %d", status)
	}
	if status, _ := post(t, p.addr, "messageThreads/add", threadAddBody); status != 429 {
		t.Fatalf("over the limit: %d", status)
	}
	var clk admin.AdminClock
	cliJSON(t, bin, env, &clk, "clock", "advance", "--seconds", "30")
	if clk.Mode != "frozen" || !clk.NowUtc.Equal(time.Date(2027, 1, 15, 9, 0, 30, 0, time.UTC)) {
		t.Fatalf("clock advance: %+v", clk)
	}
	status, body = post(t, p.addr, "messageThreads/add", threadAddBody)
	if status != 200 || body["MessageThreads"].([]any)[0].(map[string]any)["CreatedUtc"] != "2027-01-15T09:00:30Z" {
		t.Fatalf("after advancing past the window: %d %v", status, body)
	}
	cliJSON(t, bin, env, &clk, "clock", "advance", "--duration", "72h")
	if !clk.NowUtc.Equal(time.Date(2027, 1, 18, 9, 0, 30, 0, time.UTC)) {
		t.Fatalf("clock advance 72h: %+v", clk)
	}
	out, code := cliFails(t, bin, env, "clock", "set", "--now-utc", "2027-01-01T00:00:00Z")
	if code != 1 || !strings.Contains(out, "400") || !strings.Contains(out, "never moves backwards") {
		t.Fatalf("clock set to the past: exit %d\n%s", code, out)
	}
	if status, body := adminCall(t, p.addr, tok, "clock/get", `{}`); status != 200 || body["NowUtc"] != "2027-01-18T09:00:30Z" {
		t.Fatalf("clock/get: %d %v", status, body)
	}
	cliJSON(t, bin, env, &clk, "clock", "release")
	if clk.Mode != "real" || clk.NowUtc.Before(time.Date(2027, 1, 18, 9, 0, 30, 0, time.UTC)) {
		t.Fatalf("clock release: %+v", clk)
	}
	cliJSON(t, bin, env, &struct{}{}, "faults", "clear")
	if status, body := adminCall(t, p.addr, tok, "faults/getAll", `{}`); status != 200 || len(body["FaultRules"].([]any)) != 0 {
		t.Fatalf("faults/getAll after clear: %d %v", status, body)
	}
	if status, _ := adminCall(t, p.addr, tok, "faults/add", `{"Operation":"messages/add"}`); status != 400 {
		t.Fatalf("a rule with neither Status nor DelayMs: %d", status)
	}
}

// Advancing the clock sends a due webhook retry at once: the binary's
// default backoff waits about a second of the clock after a failure, and
// with the clock frozen nothing is re-sent until it is advanced.
func TestClockAdvanceSendsWebhookRetryOnTheBinary(t *testing.T) {
	bin := binary(t)
	arrived := make(chan int, 10)
	var mu sync.Mutex
	calls := 0
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		arrived <- n
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer rc.Close()
	const tok = "e2e-admin"
	p := start(t, bin, "-db", ":memory:", "-admin-token", tok, "-clock", "frozen=2027-01-15T09:00:00Z")
	env := []string{"MEWSREF_URL=" + validated(t, p.addr), "MEWSREF_ADMIN_TOKEN=" + tok}
	_, hooks := adminCall(t, p.addr, tok, "webhooks/getAll", `{}`)
	integration := hooks["Webhooks"].([]any)[0].(map[string]any)["IntegrationId"].(string)
	if status, _ := adminCall(t, p.addr, tok, "webhooks/set", `{"IntegrationId":"`+integration+`","Urls":["`+rc.URL+`"]}`); status != 200 {
		t.Fatal("webhooks/set")
	}
	_, body := post(t, p.addr, "messageThreads/add", threadAddBody)
	thread := body["MessageThreads"].([]any)[0].(map[string]any)["Id"].(string)
	if status, _ := post(t, p.addr, "messages/add", `{`+demoCreds+`,"Messages":[{"MessageThreadId":"`+thread+`","Text":"hello"}]}`); status != 200 {
		t.Fatal("messages/add")
	}
	wait := func() int {
		select {
		case n := <-arrived:
			return n
		case <-time.After(time.Until(testwait.Deadline(t))):
			t.Fatal("no webhook arrived")
			return 0
		}
	}
	if n := wait(); n != 1 {
		t.Fatalf("attempt %d", n)
	}
	// The failure is recorded once the delivery shows it (another
	// process: its state is all there is to wait on).
	deadline := testwait.Deadline(t)
	for {
		var ds admin.AdminDeliveriesResult
		cliJSON(t, bin, env, &ds, "deliveries")
		if d := ds.Deliveries[0]; d.Attempts == 1 && d.Status == "Pending" {
			// About a second after the frozen instant (shown in whole
			// seconds): on the clock, not the wall clock.
			if d.NextAttemptUtc == nil || d.NextAttemptUtc.Before(time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)) ||
				d.NextAttemptUtc.After(time.Date(2027, 1, 15, 9, 0, 2, 0, time.UTC)) {
				t.Fatalf("next attempt %v: want within 2 s of the frozen instant", d.NextAttemptUtc)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed attempt was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case n := <-arrived:
		t.Fatalf("attempt %d while the clock stood still", n)
	default:
	}
	var clk admin.AdminClock
	cliJSON(t, bin, env, &clk, "clock", "advance", "--seconds", "2")
	if n := wait(); n != 2 {
		t.Fatalf("attempt %d", n)
	}
}

// Two binaries on one PostgreSQL database: a rule added through one is
// struck through the other, once; the clock set through one stamps the
// threads of the other.
func TestFaultRulesAndClockAcrossTwoBinaries(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin := binary(t)
	const tok = "e2e-admin"
	a := start(t, bin, "-db", dsn, "-admin-token", tok)
	b := start(t, bin, "-db", dsn, "-admin-token", tok)
	envA := []string{"MEWSREF_URL=" + validated(t, a.addr), "MEWSREF_ADMIN_TOKEN=" + tok}
	var rule admin.AdminFaultRule
	cliJSON(t, bin, envA, &rule, "faults", "add", "--operation", "messageThreads/add", "--status", "500", "--count", "2")
	var clk admin.AdminClock
	cliJSON(t, bin, envA, &clk, "clock", "set", "--now-utc", "2028-06-01T12:00:00Z")
	statuses := []int{}
	for _, p := range []*proc{b, a, b} {
		status, body := post(t, p.addr, "messageThreads/add", threadAddBody)
		statuses = append(statuses, status)
		if status == 200 && body["MessageThreads"].([]any)[0].(map[string]any)["CreatedUtc"] != "2028-06-01T12:00:00Z" {
			t.Errorf("CreatedUtc %v, want the instant set through the other binary", body["MessageThreads"])
		}
	}
	if statuses[0] != 500 || statuses[1] != 500 || statuses[2] != 200 {
		t.Fatalf("statuses %v: want the rule's two strikes, then served", statuses)
	}
}
