package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// cliEnv runs CLI subcommands in process against an in-memory server with
// the admin token cli-admin.
func cliEnv(t *testing.T) func(args ...string) (string, error) {
	return cliEnvWith(t, server.Config{AdminToken: "cli-admin"})
}

func cliEnvWith(t *testing.T, cfg server.Config) func(args ...string) (string, error) {
	h, closeFn, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ts := httptest.NewServer(apitest.NewValidator(t).Handler(t, h))
	t.Cleanup(ts.Close)
	env := map[string]string{"MEWSREF_URL": ts.URL}
	return func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(t.Context(), args, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), err
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func TestCLIReadableOutput(t *testing.T) {
	run := cliEnv(t)
	out, err := run("thread", "add", "--subject", "Late check-in", "--sender", "John Doe")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "SUBJECT") || !strings.Contains(out, "Late check-in") {
		t.Fatalf("thread add:\n%s", out)
	}
	thread := uuidRE.FindString(out)
	for _, text := range []string{"first", "second"} {
		if _, err := run("message", "post", "--thread", thread, "--text", text); err != nil {
			t.Fatal(err)
		}
	}
	out, err = run("messages", "--thread", thread, "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "second") || strings.Contains(out, "first") || !strings.Contains(out, "more: add --cursor") {
		t.Errorf("messages, one page:\n%s", out)
	}
	if out, err = run("messages", "--thread", thread, "--count", "1", "--all-pages"); err != nil || !strings.Contains(out, "first") {
		t.Errorf("messages --all-pages: %v\n%s", err, out)
	}

	if _, err := run("reply", "--thread", thread, "--text", "hello"); err == nil || !strings.Contains(err.Error(), "--admin-token") {
		t.Errorf("reply without the admin token: %v", err)
	}
	if _, err := run("reply", "--thread", thread, "--text", "hello", "--admin-token", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("reply with a wrong token: %v", err)
	}
	if out, err = run("reply", "--thread", thread, "--text", "Welcome!", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "Enterprise") {
		t.Errorf("reply: %v\n%s", err, out)
	}
	if out, err = run("resolve", "--thread", thread, "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "true") {
		t.Errorf("resolve: %v\n%s", err, out)
	}
	if out, err = run("threads"); err != nil || !strings.Contains(out, thread) || !strings.Contains(out, "true") {
		t.Errorf("threads: %v\n%s", err, out)
	}
	if _, err := run("messages", "--thread", "nope"); err == nil || !strings.Contains(err.Error(), "UUID") {
		t.Errorf("bad thread id: %v", err)
	}
	if out, err = run("help"); err != nil || !strings.Contains(out, "reply in a thread") {
		t.Errorf("help: %v\n%s", err, out)
	}
}

// An admin command answered without its 200 body fails with the
// operation, the status and the server's Message; a 404 of a server without
// the admin API says how to turn it on.
func TestCLIAdminErrors(t *testing.T) {
	run := cliEnv(t)
	const unknown = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	_, err := run("reply", "--thread", unknown, "--text", "hello", "--admin-token", "cli-admin")
	if err == nil || !strings.HasPrefix(err.Error(), "reply: 404 Not Found: ") || !strings.Contains(err.Error(), unknown) || strings.Contains(err.Error(), "admin API on") {
		t.Errorf("reply in an unknown thread: %v", err)
	}
	_, err = run("clock", "set", "--now-utc", "1969-01-01T00:00:00Z", "--admin-token", "cli-admin")
	if err == nil || !strings.HasPrefix(err.Error(), "clock set: 400 Bad Request: ") {
		t.Errorf("clock set to before 1970: %v", err)
	}
	off := cliEnvWith(t, server.Config{})
	_, err = off("faults", "clear", "--admin-token", "cli-admin")
	if err == nil || !strings.HasPrefix(err.Error(), "faults clear: 404 Not Found: No operation at") || !strings.Contains(err.Error(), "started with -admin-token") {
		t.Errorf("faults clear without the admin API: %v", err)
	}
}

func TestCLIWebhooksGetAndSet(t *testing.T) {
	run := cliEnv(t)
	out, err := run("webhooks", "--admin-token", "cli-admin", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res admin.AdminWebhooksResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Webhooks) == 0 || res.Webhooks[0].Name == nil {
		t.Fatalf("webhooks --json: %v\n%s", err, out)
	}
	first := res.Webhooks[0]
	if out, err = run("webhooks", "set", "--integration", *first.Name, "--webhook-url", "http://127.0.0.1:9/a", "--webhook-url", "http://127.0.0.1:9/b", "--admin-token", "cli-admin"); err != nil ||
		!strings.Contains(out, first.IntegrationId.String()) || !strings.Contains(out, "http://127.0.0.1:9/a http://127.0.0.1:9/b") {
		t.Errorf("webhooks set by name: %v\n%s", err, out)
	}
	if out, err = run("webhooks", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "http://127.0.0.1:9/b") {
		t.Errorf("webhooks after set: %v\n%s", err, out)
	}
	if out, err = run("webhooks", "set", "--integration", first.IntegrationId.String(), "--none", "--admin-token", "cli-admin", "--json"); err != nil {
		t.Errorf("webhooks set --none: %v", err)
	} else if err := json.Unmarshal([]byte(out), &first); err != nil || len(first.Urls) != 0 {
		t.Errorf("webhooks set --none: %v\n%s", err, out)
	}
	if _, err := run("webhooks", "set", "--integration", "Nobody", "--none", "--admin-token", "cli-admin"); err == nil || !strings.Contains(err.Error(), `no integration "Nobody"`) {
		t.Errorf("unknown integration: %v", err)
	}
	// A name in another case, as export and listen take it.
	if out, err = run("webhooks", "set", "--integration", strings.ToUpper(*first.Name), "--none", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, first.IntegrationId.String()) {
		t.Errorf("webhooks set by a name in capitals: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"webhooks", "set", "--none"},
		{"webhooks", "set", "--integration", "x"},
		{"webhooks", "set", "--integration", "x", "--none", "--webhook-url", "http://127.0.0.1:9/"},
	} {
		var ue *usageError
		if _, err := run(args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestCLIReset(t *testing.T) {
	run := cliEnv(t)
	if _, err := run("thread", "add", "--subject", "gone soon", "--sender", "John Doe"); err != nil {
		t.Fatal(err)
	}
	var ue *usageError
	if _, err := run("reset", "--admin-token", "cli-admin"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("reset without --yes: %v", err)
	}
	if out, err := run("threads"); err != nil || !strings.Contains(out, "gone soon") {
		t.Fatalf("threads before the reset: %v\n%s", err, out)
	}
	if out, err := run("reset", "--yes", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "deleted") {
		t.Errorf("reset: %v\n%s", err, out)
	}
	if out, err := run("threads"); err != nil || strings.Contains(out, "gone soon") {
		t.Errorf("threads after the reset: %v\n%s", err, out)
	}
}

// An admin command against a server without -admin-token says what to do.
func TestCLIAdminOffSaysHowToTurnItOn(t *testing.T) {
	run := cliEnvWith(t, server.Config{})
	for _, args := range [][]string{
		{"reply", "--thread", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--text", "hi"},
		{"deliveries"},
		{"webhooks"},
		{"reset", "--yes"},
	} {
		_, err := run(append(args, "--admin-token", "t")...)
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "started with -admin-token") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// "more:" follows a full page only: a page shorter than --count is the last.
func TestCLIMoreOnlyAfterAFullPage(t *testing.T) {
	run := cliEnv(t)
	for _, s := range []string{"one", "two"} {
		if _, err := run("thread", "add", "--subject", s, "--sender", "John Doe"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run("threads", "--count", "1")
	if err != nil || !strings.Contains(out, "more: add --cursor") {
		t.Fatalf("a full first page: %v\n%s", err, out)
	}
	cursor := regexp.MustCompile(`--cursor (\S+)`).FindStringSubmatch(out)[1]
	if out, err = run("threads", "--count", "1", "--cursor", cursor); err != nil || !strings.Contains(out, "one") || !strings.Contains(out, "more:") {
		t.Fatalf("a full second page: %v\n%s", err, out)
	}
	last := regexp.MustCompile(`--cursor (\S+)`).FindStringSubmatch(out)[1]
	if out, err = run("threads", "--count", "1", "--cursor", last); err != nil || strings.Contains(out, "more:") {
		t.Errorf("the empty page after the last: %v\n%s", err, out)
	}
	if out, err = run("threads", "--count", "5"); err != nil || strings.Contains(out, "more:") || !strings.Contains(out, "two") {
		t.Errorf("a short page: %v\n%s", err, out)
	}
}

// The CLI sends each request once and shows the answer: a fault rule's 500
// is printed, not retried in silence until the rule is used up.
func TestCLISendsEachRequestOnce(t *testing.T) {
	run := cliEnv(t)
	if _, err := run("faults", "add", "--operation", "messageThreads/getAll", "--status", "500", "--count", "2", "--admin-token", "cli-admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("threads"); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "Injected fault") {
		t.Errorf("threads under a fault rule: %v, want its 500", err)
	}
	out, err := run("faults", "getAll", "--admin-token", "cli-admin", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res admin.AdminFaultRulesResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.FaultRules) != 1 || res.FaultRules[0].Remaining != 1 {
		t.Errorf("the rule after one threads command, want 1 strike left:\n%s", out)
	}
}

// threads (with the admin token) and requests --since count back from the
// server's clock, not this machine's: a test's frozen clock is elsewhere.
func TestCLIListsOnTheServersClock(t *testing.T) {
	past := time.Now().AddDate(-1, 0, 0)
	run := cliEnvWith(t, server.Config{AdminToken: "cli-admin", Clock: clock.Frozen(past)})
	if _, err := run("thread", "add", "--subject", "a year ago", "--sender", "John Doe"); err != nil {
		t.Fatal(err)
	}
	if out, err := run("threads", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "a year ago") {
		t.Errorf("threads on a clock frozen a year ago: %v\n%s", err, out)
	}
	if out, err := run("requests", "--since", "10m", "--op", "messageThreads/add", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "messageThreads/add") {
		t.Errorf("requests --since 10m on a clock frozen a year ago: %v\n%s", err, out)
	}
}

// deliveries --integration lists the deliveries of one integration only
// (the IntegrationId of webhookDeliveries/getAll), named or by id.
func TestCLIDeliveriesOfOneIntegration(t *testing.T) {
	run := cliEnvWith(t, server.Config{AdminToken: "cli-admin", Webhooks: server.WebhookOptions{Disabled: true}})
	demos := server.DemoIntegrations()
	for i, in := range demos[:2] {
		id := server.IntegrationID(in.ClientToken).String()
		if _, err := run("webhooks", "set", "--integration", id, "--webhook-url", "http://127.0.0.1:9/hooks", "--admin-token", "cli-admin"); err != nil {
			t.Fatal(err)
		}
		out, err := run("thread", "add", "--subject", fmt.Sprint("thread ", i), "--sender", "A",
			"--client-token", in.ClientToken, "--access-token", in.AccessTokens[0].Token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := run("message", "post", "--thread", uuidRE.FindString(out), "--text", "x",
			"--client-token", in.ClientToken, "--access-token", in.AccessTokens[0].Token); err != nil {
			t.Fatal(err)
		}
	}
	second := server.IntegrationID(demos[1].ClientToken)
	for _, name := range []string{second.String(), demos[1].Name} {
		out, err := run("deliveries", "--integration", name, "--json", "--admin-token", "cli-admin")
		if err != nil {
			t.Fatal(err)
		}
		var res admin.AdminDeliveriesResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Deliveries) != 1 || res.Deliveries[0].IntegrationId != second {
			t.Errorf("deliveries --integration %q: %v, want the one delivery of %s:\n%s", name, err, second, out)
		}
	}
	if out, err := run("deliveries", "--json", "--admin-token", "cli-admin"); err != nil || strings.Count(out, `"IntegrationId"`) < 4 {
		t.Errorf("deliveries of every integration: %v\n%s", err, out)
	}
	if _, err := run("deliveries", "--integration", "Nobody", "--admin-token", "cli-admin"); err == nil || !strings.Contains(err.Error(), `no integration "Nobody"`) {
		t.Errorf("deliveries of an unknown integration: %v", err)
	}
}

// integrations lists every integration with the enterprises of its access
// tokens (integrations/getAll), never a token.
func TestCLIIntegrations(t *testing.T) {
	run := cliEnv(t)
	out, err := run("integrations", "--admin-token", "cli-admin")
	if err != nil {
		t.Fatal(err)
	}
	demos := server.DemoIntegrations()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(demos)+1 || !strings.HasPrefix(lines[0], "INTEGRATION") {
		t.Fatalf("integrations, a header and one line per demo integration:\n%s", out)
	}
	for i, in := range demos {
		want := []string{server.IntegrationID(in.ClientToken).String(), in.Name}
		for _, at := range in.AccessTokens {
			want = append(want, at.EnterpriseIDs[0].String())
		}
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("integrations, line %d lacks %s:\n%s", i+1, w, out)
			}
		}
	}
	for _, tok := range allDemoTokens() {
		if strings.Contains(out, tok) {
			t.Errorf("integrations shows a token:\n%s", out)
		}
	}
	out, err = run("integrations", "--json", "--admin-token", "cli-admin")
	var res admin.AdminIntegrationsResult
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || len(res.Integrations) != len(demos) || len(res.Integrations[0].EnterpriseIds) != 2 {
		t.Errorf("integrations --json: %v\n%s", err, out)
	}
}

// threads search is messageThreads/search: the enterprise's threads of
// every integration by latest activity, filtered as the console's inbox.
func TestCLIThreadsSearch(t *testing.T) {
	run := cliEnv(t)
	demos := server.DemoIntegrations()
	enterprise := demos[0].AccessTokens[0].EnterpriseIDs[0].String()
	var ids []string
	for i, subject := range []string{"Breakfast hours", "Late check-in"} {
		in := demos[i]
		out, err := run("thread", "add", "--subject", subject, "--sender", "John Doe",
			"--client-token", in.ClientToken, "--access-token", in.AccessTokens[0].Token)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, uuidRE.FindString(out))
	}
	if _, err := run("reply", "--thread", ids[0], "--text", "From 7 to 10.", "--admin-token", "cli-admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("resolve", "--thread", ids[1], "--admin-token", "cli-admin"); err != nil {
		t.Fatal(err)
	}
	search := func(args ...string) []string {
		t.Helper()
		out, err := run(append([]string{"threads", "search", "--enterprise", enterprise, "--json", "--admin-token", "cli-admin"}, args...)...)
		if err != nil {
			t.Fatalf("threads search %v: %v", args, err)
		}
		var res admin.AdminThreadSearchPage
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("threads search %v: %v\n%s", args, err, out)
		}
		var got []string
		for _, s := range res.MessageThreads {
			got = append(got, s.MessageThread.Id.String())
		}
		return got
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{ids[0], ids[1]}}, // the reply moved the first thread ahead
		{[]string{"--text", "BREAKFAST"}, ids[:1]},
		{[]string{"--text", "from 7"}, ids[:1]},
		{[]string{"--resolved"}, ids[1:]},
		{[]string{"--open"}, ids[:1]},
		{[]string{"--integration", demos[1].Name}, ids[1:]},
		{[]string{"--count", "1", "--all-pages"}, []string{ids[0], ids[1]}},
	} {
		if got := search(tc.args...); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("threads search %v: %v, want %v", tc.args, got, tc.want)
		}
	}
	out, err := run("threads", "search", "--enterprise", enterprise, "--count", "1", "--admin-token", "cli-admin")
	if err != nil || !strings.Contains(out, "Breakfast hours") || !strings.Contains(out, "Enterprise: From 7 to 10.") ||
		!strings.Contains(out, "more: add --cursor "+ids[0]) {
		t.Errorf("threads search --count 1, the table: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"threads", "search", "--admin-token", "cli-admin"},
		{"threads", "search", "--enterprise", enterprise, "--resolved", "--open", "--admin-token", "cli-admin"},
	} {
		var ue *usageError
		if _, err := run(args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
