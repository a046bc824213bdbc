package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
)

func (e *env) addRule(rule obj) obj {
	e.t.Helper()
	r := e.admin("faults/add", rule)
	e.wantStatus(r, 200)
	return r.body
}

func (e *env) rules() []obj {
	e.t.Helper()
	r := e.admin("faults/getAll", obj{})
	e.wantStatus(r, 200)
	var out []obj
	for _, x := range r.body["FaultRules"].([]any) {
		out = append(out, x.(obj))
	}
	return out
}

func (e *env) messagesOf(thread any) int {
	e.t.Helper()
	r := e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{thread}, "Limitation", limitation(100, nil)))
	e.wantStatus(r, 200)
	return len(r.body["Messages"].([]any))
}

// "The next two messages/add are rate-limited": they answer 429 with the
// rule's Retry-After and store nothing; the third is served.
func TestFaultRuleNextRequestsRateLimited(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	th := e.addThread(demoClient, demoGross, "Rules")
	rule := e.addRule(obj{"Operation": "messages/add", "Count": 2, "Status": 429, "RetryAfterSeconds": 30})
	if rule["Remaining"] != float64(2) || rule["AccessToken"] != nil || rule["Status"] != float64(429) {
		t.Fatalf("added %v", rule)
	}
	for range 2 {
		r := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "not stored"})
		e.expectLimited(r, "30")
		if !strings.Contains(r.body["Message"].(string), fmt.Sprintf("fault rule %v", rule["Id"])) {
			t.Errorf("Message %q does not name the rule", r.body["Message"])
		}
	}
	if n := e.messagesOf(th["Id"]); n != 0 {
		t.Fatalf("%d messages stored by faulted requests", n)
	}
	e.wantStatus(e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "stored"}), 200)
	if n := e.messagesOf(th["Id"]); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	if rs := e.rules(); len(rs) != 1 || rs[0]["Remaining"] != float64(0) || rs[0]["Count"] != float64(2) {
		t.Fatalf("rules %v: want the used-up rule with Remaining 0", rs)
	}
	e.wantStatus(e.admin("faults/clear", obj{}), 200)
	if rs := e.rules(); len(rs) != 0 {
		t.Fatalf("rules after clear: %v", rs)
	}
}

// Every status a rule may answer, with the Mews error body (the env
// validates each response against the spec) and the rule's Message.
func TestFaultRuleStatuses(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	for _, status := range []int{400, 401, 403, 408, 429, 500, 503} {
		e.addRule(obj{"Operation": "messageThreads/add", "Status": status, "Message": fmt.Sprintf("rehearsal %d", status)})
		r := e.post(pathThreadsAdd, demo("OriginalSender", "John", "Subject", "x"))
		e.wantStatus(r, status)
		if r.body["Message"] != fmt.Sprintf("rehearsal %d", status) || r.body["RequestId"] != r.header.Get("Request-Id") {
			t.Errorf("%d: body %s", status, r.raw)
		}
		if got := r.header.Get("Retry-After"); (status == 429) != (got == "1") {
			t.Errorf("%d: Retry-After %q", status, got)
		}
	}
	e.addThread(demoClient, demoGross, "served again")
}

// A rule for one AccessToken strikes only that token's requests; others,
// in the order added, strike the rest. An AccessToken that no integration
// has is refused, so that a typo does not make a rule that never strikes.
func TestFaultRuleOfOneAccessToken(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	rule := e.addRule(obj{"Operation": "messages/getAll", "AccessToken": demoNet, "Status": 403})
	if rule["AccessToken"] != server.MaskToken(demoNet) {
		t.Errorf("AccessToken shown as %v, want it masked", rule["AccessToken"])
	}
	get := func(access string) response {
		return e.post(pathMessagesGetAll, creds(demoClient, access, "MessageThreadIds", []any{"0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30"}, "Limitation", limitation(1, nil)))
	}
	e.wantStatus(get(demoGross), 200)
	e.wantStatus(get(demoNet), 403)
	e.wantStatus(get(demoNet), 200)
	r := e.admin("faults/add", obj{"Operation": "messages/getAll", "AccessToken": "no-such-token-anywhere", "Status": 500})
	e.wantStatus(r, 400)
	if strings.Contains(string(r.raw), "no-such-token-anywhere") {
		t.Errorf("the error shows the whole token: %s", r.raw)
	}
}

func TestFaultRuleBadInput(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	for _, body := range []obj{
		{"Operation": "messages/add"},                                                // neither Status nor DelayMs
		{"Operation": "messages/add", "Status": 418},                                 // not a status a rule answers
		{"Operation": "messages/remove", "Status": 500},                              // no such operation
		{"Operation": "messages/add", "Status": 500, "RetryAfterSeconds": 5},         // Retry-After without 429
		{"Operation": "messages/add", "DelayMs": 10, "Message": "x"},                 // Message without Status
		{"Operation": "messages/add", "Status": 500, "Count": 0},                     // no strike
		{"Operation": "messages/add", "Status": 500, "DelayMs": -1},                  // negative delay
		{"Operation": "messages/add", "Status": 500, "Surprise": true},               // unknown property
		{"Operation": "messages/add", "Status": 429, "RetryAfterSeconds": 1_000_000}, // over a day
	} {
		r := e.admin("faults/add", body)
		if r.status != 400 {
			t.Errorf("%v: status %d, want 400: %s", body, r.status, r.raw)
		}
	}
	if rs := e.rules(); len(rs) != 0 {
		t.Errorf("bad input stored rules: %v", rs)
	}
}

// A delay rule holds the request and then serves it; a delay past the
// request timeout answers 408.
func TestFaultRuleDelay(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken, RequestTimeout: 2 * time.Second})
	e.addRule(obj{"Operation": "messageThreads/add", "DelayMs": 50})
	start := time.Now()
	e.addThread(demoClient, demoGross, "late but served")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("served after %s, before the delay of 50ms", d)
	}
	e.addRule(obj{"Operation": "messageThreads/add", "DelayMs": 600000, "Status": 500})
	r := e.post(pathThreadsAdd, demo("OriginalSender", "John", "Subject", "too late"))
	e.wantStatus(r, 408)
}

// A rule wins over the random faults and the rate limit: the request it
// answers is not counted by the limiter.
func TestFaultRuleWinsOverRandomFaultsAndRateLimit(t *testing.T) {
	faults, err := server.ParseFaults("messageThreads/getAll:500=1")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{AdminToken: adminToken, Faults: faults,
		RateLimit: &server.RateLimit{Requests: 1, Window: time.Hour}})
	e.addRule(obj{"Operation": "messageThreads/getAll", "Count": 3, "Status": 503})
	for range 3 {
		e.wantStatus(e.getThreads(demoGross), 503)
	}
	// The limiter counted none of them: this one is admitted, and fails
	// at random (share 1).
	e.wantStatus(e.getThreads(demoGross), 500)
	e.expectLimited(e.getThreads(demoGross), "3600")
}

// 32 clients at once: a rule of Count 10 fails exactly 10 of their
// requests, and every other request is stored.
func TestFaultRuleConsumedExactlyCountUnderConcurrency(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	concurrentStrikes(t, []*env{e}, 10)
}

// concurrentStrikes sends 32 clients' requests through the replicas (in
// turn) with a rule of count strikes, and checks exactly count of them
// were struck and the others stored.
func concurrentStrikes(t *testing.T, replicas []*env, count int) {
	const clients, each = 32, 3
	replicas[0].addRule(obj{"Operation": "messageThreads/add", "Count": count, "Status": 500})
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			e := replicas[c%len(replicas)]
			for range each {
				r := e.post(pathThreadsAdd, demo("OriginalSender", "John", "Subject", "concurrent"))
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[500] != count || statuses[200] != clients*each-count {
		t.Fatalf("statuses %v: want %d of 500 and the rest 200", statuses, count)
	}
	r := replicas[len(replicas)-1].admin("messageThreads/getAll", obj{"EnterpriseId": server.DemoGrossPricingEnterprise, "Limitation": limitation(1000, nil)})
	replicas[0].wantStatus(r, 200)
	if n := len(r.body["MessageThreads"].([]any)); n != clients*each-count {
		t.Fatalf("%d threads stored, want %d", n, clients*each-count)
	}
	if rs := replicas[0].rules(); rs[0]["Remaining"] != float64(0) {
		t.Fatalf("rule %v", rs[0])
	}
}
