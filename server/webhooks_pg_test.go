package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
)

// Three servers on one PostgreSQL database, as replicas behind a load
// balancer: each dispatcher claims from the shared outbox, and every
// webhook reaches the receiver exactly once.
func TestWebhooksOfReplicasAreSentOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	var mu sync.Mutex
	got := map[uuid.UUID]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h webhook
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Errorf("webhook %s: %v", raw, err)
		}
		mu.Lock()
		for _, e := range h.Events {
			got[e.Value.ID]++
		}
		mu.Unlock()
	}))
	defer rc.Close()
	tokens := &server.TokenConfig{Integrations: []server.IntegrationConfig{{Name: "Hooked", ClientToken: "hooked-client",
		AccessTokens: []server.AccessTokenConfig{{Token: "hooked-access", EnterpriseIDs: []uuid.UUID{server.DemoNetPricingEnterprise}}},
		Webhooks:     []string{rc.URL}}}}

	var replicas []*env
	var probes []*server.Probe
	for range 3 {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		cfg := server.Config{Store: db, Tokens: tokens, AdminToken: adminToken,
			Webhooks: server.WebhookOptions{PollInterval: 5 * time.Millisecond}}
		probes = append(probes, server.NewProbe(&cfg))
		replicas = append(replicas, newEnv(t, cfg))
	}
	th := replicas[0].addThread("hooked-client", "hooked-access", "Shared")
	const n = 30
	var ids []uuid.UUID
	for i := range n {
		r := replicas[i%3].addMessages("hooked-client", "hooked-access", obj{"MessageThreadId": th["Id"], "Text": "hello"})
		replicas[i%3].wantStatus(r, 200)
		ids = append(ids, uuid.MustParse(r.body["Messages"].([]any)[0].(obj)["Message"].(obj)["Id"].(string)))
	}
	// A delivery is claimed only while Pending: once none is, every
	// attempt there will be has begun, and once every replica's
	// dispatcher has settled, every one has reached the receiver.
	eventually(t, "every delivery delivered", func() bool {
		ds := replicas[0].deliveries()
		for _, d := range ds {
			if d["Status"] != "Delivered" {
				return false
			}
		}
		return len(ds) == n
	})
	for _, p := range probes {
		if err := p.SettleWebhooks(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("message %s: %d webhooks, want 1", id, got[id])
		}
	}
}
