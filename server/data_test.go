package server_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
)

// engines runs f on a fresh SQLite store and, with MEWSREF_TEST_POSTGRES, on
// a fresh PostgreSQL schema.
func engines(t *testing.T, f func(t *testing.T, store mews.Store)) {
	t.Run("SQLite", func(t *testing.T) { f(t, nil) })
	t.Run("PostgreSQL", func(t *testing.T) {
		db, err := postgres.Open(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

type party struct{ client, access string }

var parties = []party{{demoClient, demoGross}, {demoClient, demoNet}, {client2, client2Grs}}

// answers is what every read operation answers, each listing walked page
// by page with count: the threads of every party, the messages of all its
// threads at once and of each, and the admin lists of both demo
// enterprises.
func (e *env) answers(count int) string {
	e.t.Helper()
	var b strings.Builder
	all := obj{"StartUtc": "2022-01-01T00:00:00Z", "EndUtc": "2022-03-31T00:00:00Z"}
	walk := func(path string, body func(cursor any) any, list string, auth ...string) []any {
		var items []any
		var cursor any
		for {
			r := e.post(path, body(cursor), auth...)
			e.wantStatus(r, 200)
			page := r.body[list].([]any)
			if len(page) == 0 {
				return items
			}
			items = append(items, page...)
			cursor = r.body["Cursor"]
			raw, _ := json.Marshal(page)
			b.Write(raw)
			b.WriteByte('\n')
		}
	}
	for _, p := range parties {
		fmt.Fprintf(&b, "party %s:\n", p.access[:8])
		threads := walk(pathThreadsGetAll, func(cursor any) any {
			return creds(p.client, p.access, "UpdatedUtc", all, "Limitation", limitation(count, cursor))
		}, "MessageThreads")
		var ids []string
		for _, t := range threads {
			ids = append(ids, t.(obj)["Id"].(string))
		}
		for i := 0; i < len(ids); i += 1000 {
			walk(pathMessagesGetAll, func(cursor any) any {
				return creds(p.client, p.access, "MessageThreadIds", ids[i:min(i+1000, len(ids))], "Limitation", limitation(count, cursor))
			}, "Messages")
		}
		for _, id := range ids {
			walk(pathMessagesGetAll, func(cursor any) any {
				return creds(p.client, p.access, "MessageThreadIds", []string{id}, "Limitation", limitation(count, cursor))
			}, "Messages")
		}
	}
	for _, en := range []string{server.DemoGrossPricingEnterprise.String(), server.DemoNetPricingEnterprise.String()} {
		fmt.Fprintf(&b, "enterprise %s:\n", en)
		walk("/_admin/v1/messageThreads/getAll", func(cursor any) any {
			return obj{"EnterpriseId": en, "Limitation": limitation(count, cursor)}
		}, "MessageThreads", "Authorization", "Bearer "+adminToken)
	}
	return b.String()
}

// randomConversations adds random threads, messages of both sides and
// resolutions through the API, with the clock moving in steps of a quarter
// second or not at all, so that many items share a second.
func (e *env) randomConversations(r *rand.Rand) {
	type thread struct {
		p  party
		id string
	}
	var threads []thread
	for range 3 + r.IntN(25) {
		e.clock.Advance(time.Duration(r.IntN(3)) * 250 * time.Millisecond)
		switch {
		case len(threads) == 0 || r.IntN(3) == 0:
			p := parties[r.IntN(len(parties))]
			th := e.addThread(p.client, p.access, fmt.Sprintf("Stay %d", len(threads)))
			threads = append(threads, thread{p, th["Id"].(string)})
		case r.IntN(3) == 0:
			th := threads[r.IntN(len(threads))]
			e.wantStatus(e.admin("messages/add", obj{"MessageThreadId": th.id, "Text": "From the desk"}), 200)
		case r.IntN(4) == 0:
			th := threads[r.IntN(len(threads))]
			e.wantStatus(e.admin("messageThreads/resolve", obj{"MessageThreadId": th.id, "IsResolved": r.IntN(2) == 0}), 200)
		default:
			th := threads[r.IntN(len(threads))]
			var items []obj
			for range 1 + r.IntN(3) {
				items = append(items, obj{"MessageThreadId": th.id, "Text": fmt.Sprintf("Question %d", r.IntN(100))})
			}
			e.wantStatus(e.addMessages(th.p.client, th.p.access, items...), 200)
		}
	}
}

// Export, reset and import of the export gives identical answers to every
// getAll, over HTTP, for random data on both engines.
func TestDataExportResetImportSameAnswers(t *testing.T) {
	engines(t, func(t *testing.T, store mews.Store) {
		seed := time.Now().UnixNano()
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(uint64(seed), 0))
		e := newEnv(t, server.Config{Store: store, AdminToken: adminToken})
		for round := range 4 {
			e.randomConversations(r)
			count := 1 + r.IntN(5)
			before := e.answers(count)
			exp := e.admin("data/export", obj{})
			e.wantStatus(exp, 200)
			e.wantStatus(e.admin("reset", obj{}), 200)
			imp := e.admin("data/import", string(exp.raw))
			e.wantStatus(imp, 200)
			if n := len(exp.body["MessageThreads"].([]any)); imp.body["AddedMessageThreads"] != float64(n) {
				t.Errorf("round %d: import %s, want %d threads added", round, imp.raw, n)
			}
			if after := e.answers(count); after != before {
				t.Fatalf("round %d (count %d): answers differ after export, reset and import\nbefore:\n%s\nafter:\n%s", round, count, before, after)
			}
			again := e.admin("data/export", obj{})
			if string(again.raw) != string(exp.raw) {
				t.Fatalf("round %d: the export after the import differs:\n%s\n%s", round, exp.raw, again.raw)
			}
		}
	})
}

// A captured answer of messageThreads/getAll and one of messages/getAll,
// pasted into one body with the integration and enterprise, import as they
// are into another server and read back the same.
func TestDataImportCapturedAnswers(t *testing.T) {
	engines(t, func(t *testing.T, store mews.Store) {
		src := newEnv(t, server.Config{AdminToken: adminToken})
		src.randomConversations(rand.New(rand.NewPCG(1, 2)))
		th := src.addThread(demoClient, demoGross, "Captured")
		src.clock.Advance(time.Second)
		src.wantStatus(src.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "one"}, obj{"MessageThreadId": th["Id"], "Text": "two"}), 200)
		threads := src.post(pathThreadsGetAll, demo("UpdatedUtc", obj{"StartUtc": "2022-01-01T00:00:00Z", "EndUtc": "2022-03-31T00:00:00Z"}, "Limitation", limitation(1000, nil)))
		src.wantStatus(threads, 200)
		var ids []any
		for _, t := range threads.body["MessageThreads"].([]any) {
			ids = append(ids, t.(obj)["Id"])
		}
		msgs := src.post(pathMessagesGetAll, demo("MessageThreadIds", ids, "Limitation", limitation(1000, nil)))
		src.wantStatus(msgs, 200)

		dst := newEnv(t, server.Config{Store: store, AdminToken: adminToken})
		body := threads.body // with its Cursor, as captured
		body["Messages"] = msgs.body["Messages"]
		body["IntegrationId"] = demoIntegrationID(t, dst)
		body["EnterpriseId"] = server.DemoGrossPricingEnterprise
		r := dst.admin("data/import", body)
		dst.wantStatus(r, 200)
		if r.body["AddedMessageThreads"] != float64(len(ids)) || r.body["AddedMessages"] != float64(len(msgs.body["Messages"].([]any))) {
			t.Errorf("import: %s", r.raw)
		}
		if got, want := dst.answers(3), src.answers(3); !strings.Contains(want, strings.Split(got, "party 4D6C7ABE")[0]) {
			t.Errorf("the gross-pricing party's answers differ:\nsource:\n%s\nimported:\n%s", want, got)
		}
		// Again: nothing added, everything there.
		r = dst.admin("data/import", body)
		dst.wantStatus(r, 200)
		if r.body["AddedMessageThreads"] != 0.0 || r.body["ExistingMessageThreads"] != float64(len(ids)) {
			t.Errorf("second import: %s", r.raw)
		}
	})
}

func TestDataImportErrors(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	integ := demoIntegrationID(t, e)
	thread := func(kv ...any) obj {
		o := obj{"OriginalSender": "Jane", "Subject": "Spa", "CreatedUtc": "2022-03-01T10:00:00Z"}
		for i := 0; i+1 < len(kv); i += 2 {
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	for _, tc := range []struct {
		name string
		body obj
		want string
	}{
		{"no integration", obj{"MessageThreads": []any{thread()}}, "MessageThreads[0].IntegrationId: required"},
		{"unknown integration", obj{"IntegrationId": "0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30", "MessageThreads": []any{}}, "IntegrationId: no integration"},
		{"enterprise of no token", obj{"IntegrationId": integ, "EnterpriseId": "0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30", "MessageThreads": []any{thread()}},
			"is not an enterprise of an access token"},
		{"updated before created", obj{"IntegrationId": integ, "EnterpriseId": server.DemoGrossPricingEnterprise, "MessageThreads": []any{thread("UpdatedUtc", "2022-02-01T00:00:00Z")}},
			"MessageThreads[0].UpdatedUtc"},
		{"unknown thread", obj{"IntegrationId": integ, "EnterpriseId": server.DemoGrossPricingEnterprise, "MessageThreads": []any{},
			"Messages": []any{obj{"MessageThreadId": "0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30", "Text": "hi", "Sender": obj{"Discriminator": "Enterprise"}, "CreatedUtc": "2022-03-01T10:00:00Z"}}},
			"neither a thread of the import nor a stored one"},
		{"bad sender", obj{"IntegrationId": integ, "EnterpriseId": server.DemoGrossPricingEnterprise, "MessageThreads": []any{},
			"Messages": []any{obj{"MessageThreadId": "0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30", "Text": "hi", "Sender": obj{"Discriminator": "Guest"}, "CreatedUtc": "2022-03-01T10:00:00Z"}}},
			"Sender.Discriminator"},
		{"no threads", obj{}, "MessageThreads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.admin("data/import", tc.body)
			e.wantStatus(r, 400)
			if msg, _ := r.body["Message"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("Message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
	if r := e.admin("data/export", obj{}); len(r.body["MessageThreads"].([]any)) != 0 {
		t.Errorf("failed imports stored threads: %s", r.raw)
	}
}

// Ids left out are derived from the content, so a fixture without them
// imports once however often it is imported; UpdatedUtc and IsResolved are
// derived too.
func TestDataImportDerivesWhatIsLeftOut(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	body := obj{"IntegrationId": demoIntegrationID(t, e), "EnterpriseId": server.DemoGrossPricingEnterprise,
		"MessageThreads": []any{obj{"OriginalSender": "Jane", "Subject": "Spa", "CreatedUtc": "2022-03-01T10:00:00+01:00"}}}
	for i, want := range []string{`"AddedMessageThreads":1`, `"ExistingMessageThreads":1`} {
		r := e.admin("data/import", body)
		e.wantStatus(r, 200)
		if !strings.Contains(string(r.raw), want) {
			t.Errorf("import %d: %s, want %s", i, r.raw, want)
		}
	}
	r := e.admin("data/export", obj{})
	th := r.body["MessageThreads"].([]any)[0].(obj)
	if th["CreatedUtc"] != "2022-03-01T09:00:00Z" || th["UpdatedUtc"] != "2022-03-01T09:00:00Z" || th["IsResolved"] != false {
		t.Errorf("thread %v", th)
	}
}

func TestDataExportFilters(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	e.addThread(demoClient, demoGross, "gross")
	e.addThread(demoClient, demoNet, "net")
	e.addThread(client2, client2Grs, "other")
	count := func(body obj) int {
		r := e.admin("data/export", body)
		e.wantStatus(r, 200)
		return len(r.body["MessageThreads"].([]any))
	}
	in := demoIntegrationID(t, e)
	if n := count(obj{}); n != 3 {
		t.Errorf("all: %d threads", n)
	}
	if n := count(obj{"IntegrationId": in}); n != 2 {
		t.Errorf("integration: %d threads", n)
	}
	if n := count(obj{"IntegrationId": in, "EnterpriseId": server.DemoNetPricingEnterprise}); n != 1 {
		t.Errorf("integration and enterprise: %d threads", n)
	}
}

// A fixture file seeds the server at start (Config.Seed), in YAML as in
// JSON; a bad one names the property.
func TestSeedFixture(t *testing.T) {
	integ := demoIntegrationID(t, newEnv(t, server.Config{AdminToken: adminToken}))
	yaml := `IntegrationId: ` + integ + `
EnterpriseId: 3fa85f64-5717-4562-b3fc-2c963f66afa6
MessageThreads:
  - Id: 8d02142f-31cf-4115-90bf-ae5200c7a1ba
    OriginalSender: John Doe
    Subject: Late check-in
    CreatedUtc: 2022-03-01T18:00:00Z
Messages:
  - MessageThreadId: 8d02142f-31cf-4115-90bf-ae5200c7a1ba
    Text: I will arrive after midnight.
    Sender: {Discriminator: Application}
    CreatedUtc: "2022-03-01T18:00:00Z"
`
	seed, err := server.ParseFixture([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{AdminToken: adminToken, Seed: seed})
	r := e.post(pathMessagesGetAll, demo("MessageThreadIds", []string{"8d02142f-31cf-4115-90bf-ae5200c7a1ba"}, "Limitation", limitation(10, nil)))
	e.wantStatus(r, 200)
	if ms := r.body["Messages"].([]any); len(ms) != 1 || ms[0].(obj)["CreatedUtc"] != "2022-03-01T18:00:00Z" {
		t.Errorf("seeded messages: %s", r.raw)
	}
	_, err = server.ParseFixture([]byte("MessageThreads:\n  - OriginalSender: x\n    Subject: y\n    CreatedUtc: yesterday\n"))
	if err == nil || !strings.Contains(err.Error(), "MessageThreads[0].CreatedUtc") {
		t.Errorf("bad fixture: %v, want an error naming MessageThreads[0].CreatedUtc", err)
	}
}

// Every example fixture loads and imports.
func TestExampleFixturesLoad(t *testing.T) {
	files, err := filepath.Glob("../examples/fixtures/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			seed, err := server.LoadFixture(f)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, server.Config{AdminToken: adminToken, Seed: seed})
			r := e.admin("data/export", obj{})
			if len(r.body["MessageThreads"].([]any)) != len(seed.MessageThreads) {
				t.Errorf("%s: exported %s", f, r.raw)
			}
		})
	}
}

// Redelivery sends a delivery's payload again, to its URL or another one,
// as a new delivery; the original stays.
func TestWebhookRedeliver(t *testing.T) {
	first, second := newReceiver(t, 0), newReceiver(t, 0)
	e := newEnv(t, server.Config{AdminToken: adminToken, Webhooks: fast(3)})
	e.wantStatus(e.admin("webhooks/set", obj{"IntegrationId": demoIntegrationID(t, e), "Urls": []string{first.URL}}), 200)
	th := e.addThread(demoClient, demoGross, "Redelivered")
	e.wantStatus(e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "hello"}), 200)
	eventually(t, "the first delivery", func() bool { return len(first.received()) == 1 })
	orig := e.deliveries()[0]

	r := e.admin("webhookDeliveries/redeliver", obj{"Id": orig["Id"]})
	e.wantStatus(r, 200)
	d := r.body["Delivery"].(obj)
	if d["Id"] == orig["Id"] || d["Url"] != first.URL || d["Attempts"] != 0.0 {
		t.Errorf("redelivery %v of %v", d, orig)
	}
	eventually(t, "the redelivery", func() bool { return len(first.received()) == 2 })
	if got := first.received(); got[0].Events[0].Value.ID != got[1].Events[0].Value.ID {
		t.Errorf("redelivered events %v, want %v", got[1].Events, got[0].Events)
	}

	e.wantStatus(e.admin("webhookDeliveries/redeliver", obj{"Id": orig["Id"], "Url": second.URL}), 200)
	eventually(t, "the redelivery elsewhere", func() bool { return len(second.received()) == 1 })
	if ds := e.deliveries(); len(ds) != 3 || ds[2]["Id"] != orig["Id"] || ds[2]["Status"] != "Delivered" {
		t.Errorf("deliveries %v", ds)
	}

	e.wantStatus(e.admin("webhookDeliveries/redeliver", obj{"Id": 999999}), 404)
	e.wantStatus(e.admin("webhookDeliveries/redeliver", obj{"Id": orig["Id"], "Url": "ftp://x"}), 400)
	e.wantStatus(e.admin("webhookDeliveries/redeliver", obj{"Id": 0}), 400)
}

// Imported instants keep what they say, to the microsecond (the stores'
// resolution), and the export writes them so: the API's own responses show
// whole seconds.
func TestDataImportKeepsSubSecondInstants(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	id := "8d02142f-31cf-4115-90bf-ae5200c7a1ba"
	r := e.admin("data/import", obj{"IntegrationId": demoIntegrationID(t, e), "EnterpriseId": server.DemoGrossPricingEnterprise,
		"MessageThreads": []any{obj{"Id": id, "OriginalSender": "Jane", "Subject": "Spa", "CreatedUtc": "2022-03-01T10:00:00.1234567Z"}},
		"Messages":       []any{obj{"MessageThreadId": id, "Text": "hi", "Sender": obj{"Discriminator": "Application"}, "CreatedUtc": "2022-03-01T11:00:00.5+01:00"}}})
	e.wantStatus(r, 200)
	r = e.admin("data/export", obj{})
	e.wantStatus(r, 200)
	th := r.body["MessageThreads"].([]any)[0].(obj)
	m := r.body["Messages"].([]any)[0].(obj)
	if th["CreatedUtc"] != "2022-03-01T10:00:00.123456Z" || th["UpdatedUtc"] != "2022-03-01T10:00:00.5Z" || m["CreatedUtc"] != "2022-03-01T10:00:00.5Z" {
		t.Errorf("exported %s", r.raw)
	}
	got := e.post(pathThreadsGetAll, demo("MessageThreadIds", []string{id}, "Limitation", limitation(1, nil)))
	e.wantStatus(got, 200)
	if th := got.body["MessageThreads"].([]any)[0].(obj); th["CreatedUtc"] != "2022-03-01T10:00:00Z" {
		t.Errorf("the API shows %v, want whole seconds", th["CreatedUtc"])
	}
}
