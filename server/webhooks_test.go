package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// receiver is a webhook endpoint that answers failFirst requests with 503,
// then 204, and keeps every body it accepted.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	calls     int
	failFirst int
	accepted  []webhook
}

type webhook struct {
	EnterpriseID  uuid.UUID `json:"EnterpriseId"`
	IntegrationID uuid.UUID `json:"IntegrationId"`
	Events        []struct {
		Discriminator string
		Value         struct {
			ID uuid.UUID `json:"Id"`
		}
	}
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	rc := &receiver{failFirst: failFirst}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.calls++
		if rc.calls <= rc.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var h webhook
		if err := json.Unmarshal(body, &h); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %s: %v", body, err)
		}
		rc.accepted = append(rc.accepted, h)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []webhook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook(nil), rc.accepted...)
}

// eventually polls cond until it holds or the test's wait deadline
// (testwait.Deadline) passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := testwait.Deadline(t)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fast is a dispatcher that polls often and waits a minute of the
// (injected) clock between attempts.
func fast(max int) server.WebhookOptions {
	return server.WebhookOptions{PollInterval: 5 * time.Millisecond, MaxAttempts: max,
		Backoff: func(int) time.Duration { return time.Minute }}
}

func (e *env) deliveries() []obj {
	e.t.Helper()
	r := e.admin("webhookDeliveries/getAll", obj{"Count": 100})
	e.wantStatus(r, 200)
	var out []obj
	for _, d := range r.body["Deliveries"].([]any) {
		out = append(out, d.(obj))
	}
	return out
}

func demoIntegrationID(t *testing.T, e *env) string {
	r := e.admin("webhooks/getAll", obj{})
	e.wantStatus(r, 200)
	return r.body["Webhooks"].([]any)[0].(obj)["IntegrationId"].(string)
}

// A receiver that fails twice gets the webhook at the third attempt, each
// attempt a backoff later on the injected clock; the attempts are visible
// through the admin API.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	rc := newReceiver(t, 2)
	e := newEnv(t, server.Config{AdminToken: adminToken, Webhooks: fast(5)})
	integration := demoIntegrationID(t, e)
	r := e.admin("webhooks/set", obj{"IntegrationId": integration, "Urls": []string{rc.URL + "/hook"}})
	e.wantStatus(r, 200)

	th := e.addThread(demoClient, demoGross, "Towels")
	r = e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "Two more, please"})
	e.wantStatus(r, 200)
	msg := r.body["Messages"].([]any)[0].(obj)["Message"].(obj)["Id"].(string)

	for attempt := 1; attempt <= 2; attempt++ {
		eventually(t, "a failed attempt", func() bool {
			d := e.deliveries()[0]
			return d["Attempts"] == float64(attempt) && d["Status"] == "Pending" && d["LastStatusCode"] == float64(503)
		})
		e.clock.Advance(time.Minute)
	}
	eventually(t, "delivery", func() bool { return len(rc.received()) == 1 })
	got := rc.received()[0]
	if got.EnterpriseID != server.DemoGrossPricingEnterprise || got.IntegrationID.String() != integration ||
		len(got.Events) != 1 || got.Events[0].Discriminator != "MessageAdded" || got.Events[0].Value.ID.String() != msg {
		t.Errorf("webhook %+v", got)
	}
	eventually(t, "the delivery recorded", func() bool { return e.deliveries()[0]["Status"] == "Delivered" })
	d := e.deliveries()[0]
	if d["Attempts"] != float64(3) || d["LastStatusCode"] != float64(204) || d["NextAttemptUtc"] != nil {
		t.Errorf("delivery %v", d)
	}
}

func TestWebhookFailsAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, 1000)
	e := newEnv(t, server.Config{AdminToken: adminToken, Webhooks: fast(2), Tokens: &server.TokenConfig{
		Integrations: []server.IntegrationConfig{{Name: "Hooked", ClientToken: "hooked-client",
			AccessTokens: []server.AccessTokenConfig{{Token: "hooked-access", EnterpriseIDs: []uuid.UUID{server.DemoNetPricingEnterprise}}},
			Webhooks:     []string{rc.URL}}},
	}})
	th := e.addThread("hooked-client", "hooked-access", "Spa")
	e.wantStatus(e.admin("messages/add", obj{"MessageThreadId": th["Id"], "Text": "Booked for 10:00"}), 200)
	eventually(t, "the first attempt", func() bool { return e.deliveries()[0]["Attempts"] == float64(1) })
	e.clock.Advance(time.Minute)
	eventually(t, "the delivery failed", func() bool { return e.deliveries()[0]["Status"] == "Failed" })
	d := e.deliveries()[0]
	if d["Attempts"] != float64(2) || d["LastError"] == nil || d["NextAttemptUtc"] != nil {
		t.Errorf("delivery %v", d)
	}
}

// A receiver that does not answer holds up no API request: messages/add
// answers while the webhook is still in flight.
func TestWebhookReceiverBlockingDoesNotDelayRequests(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	block := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer block.Close()
	defer close(release)
	e := newEnv(t, server.Config{AdminToken: adminToken, Webhooks: fast(5)})
	e.wantStatus(e.admin("webhooks/set", obj{"IntegrationId": demoIntegrationID(t, e), "Urls": []string{block.URL}}), 200)
	th := e.addThread(demoClient, demoGross, "Late")
	e.wantStatus(e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "one"}), 200)
	select {
	case <-arrived:
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("the webhook was not sent")
	}
	// The receiver holds the first webhook; more messages are accepted.
	e.wantStatus(e.addMessages(demoClient, demoGross, obj{"MessageThreadId": th["Id"], "Text": "two"}), 200)
	e.wantStatus(e.admin("messages/add", obj{"MessageThreadId": th["Id"], "Text": "three"}), 200)
}

// Deliveries queued while no dispatcher runs are sent by the next server
// on the same database: the queue is in the database, not in memory.
func TestWebhookQueueSurvivesRestart(t *testing.T) {
	rc := newReceiver(t, 0)
	path := filepath.Join(t.TempDir(), "mews.db")
	open := func() *sqlite.DB {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	tokens := &server.TokenConfig{Integrations: []server.IntegrationConfig{{Name: "Hooked", ClientToken: "hooked-client",
		AccessTokens: []server.AccessTokenConfig{{Token: "hooked-access", EnterpriseIDs: []uuid.UUID{server.DemoNetPricingEnterprise}}},
		Webhooks:     []string{rc.URL}}}}

	db := open()
	opts := fast(5)
	opts.Disabled = true
	e := newEnv(t, server.Config{Store: db, Tokens: tokens, Webhooks: opts})
	th := e.addThread("hooked-client", "hooked-access", "Kept")
	e.wantStatus(e.addMessages("hooked-client", "hooked-access", obj{"MessageThreadId": th["Id"], "Text": "queued"}), 200)
	e.ts.Close()
	if got := rc.received(); len(got) != 0 {
		t.Fatalf("sent without a dispatcher: %v", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open()
	t.Cleanup(func() { db.Close() })
	newEnv(t, server.Config{Store: db, Tokens: tokens, Webhooks: fast(5)})
	eventually(t, "the queued webhook", func() bool { return len(rc.received()) == 1 })
}

// URLs set through the admin API are stored; at start, a token file entry
// with a webhooks key replaces them, one without the key keeps them.
func TestWebhookURLsFromFileAndAdminAPI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mews.db")
	integration := func(hooks []string) *server.TokenConfig {
		return &server.TokenConfig{DemoTokens: new(false), Integrations: []server.IntegrationConfig{{Name: "Hooked", ClientToken: "hooked-client",
			AccessTokens: []server.AccessTokenConfig{{Token: "hooked-access", EnterpriseIDs: []uuid.UUID{server.DemoNetPricingEnterprise}}},
			Webhooks:     hooks}}}
	}
	urls := func(tokens *server.TokenConfig, set []string) []any {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		h, closeFn, err := server.New(server.Config{Store: db, Tokens: tokens, AdminToken: adminToken})
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		e := &env{t: t, ts: apitest.Server(t, h)}
		defer e.ts.Close()
		r := e.admin("webhooks/getAll", obj{})
		e.wantStatus(r, 200)
		hooks := r.body["Webhooks"].([]any)[0].(obj)
		if set != nil {
			r = e.admin("webhooks/set", obj{"IntegrationId": hooks["IntegrationId"], "Urls": set})
			if r.status != 200 {
				return nil
			}
			return r.body["Urls"].([]any)
		}
		return hooks["Urls"].([]any)
	}
	if got := urls(integration([]string{"http://file.example/1"}), nil); len(got) != 1 || got[0] != "http://file.example/1" {
		t.Fatalf("from the file: %v", got)
	}
	if got := urls(integration(nil), []string{"http://api.example/2"}); len(got) != 1 || got[0] != "http://api.example/2" {
		t.Fatalf("set: %v", got)
	}
	if got := urls(integration(nil), nil); len(got) != 1 || got[0] != "http://api.example/2" {
		t.Errorf("no webhooks key: %v, want the stored URL kept", got)
	}
	if got := urls(integration([]string{"http://file.example/3"}), nil); len(got) != 1 || got[0] != "http://file.example/3" {
		t.Errorf("webhooks key: %v, want the file's URL", got)
	}
	if got := urls(integration(nil), []string{"ftp://nope"}); got != nil {
		t.Errorf("a bad URL was accepted: %v", got)
	}
}
