package main

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// urlsOf returns the webhook URLs of the first demo integration.
func urlsOf(t *testing.T, ac *admin.ClientWithResponses) []string {
	t.Helper()
	rsp, err := ac.AdminWebhooksGetAllWithResponse(t.Context(), admin.AdminEmpty{})
	if err != nil || rsp.JSON200 == nil {
		t.Fatalf("webhooks/getAll: %v %s", err, body(rsp))
	}
	for _, w := range rsp.JSON200.Webhooks {
		if w.Name != nil && *w.Name == server.DemoIntegrations()[0].Name {
			return w.Urls
		}
	}
	t.Fatal("no demo integration")
	return nil
}

// setup starts a server whose first demo integration has a webhook URL of
// its own, and returns its URL and an admin client.
func setup(t *testing.T, cfg server.Config) (string, *admin.ClientWithResponses, []string) {
	cfg.AdminToken = "secret"
	h, closeFn, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ts := apitest.Server(t, h)
	ac, err := admin.NewClientWithResponses(ts.URL, admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer secret")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	before := []string{"http://127.0.0.1:9/the-users-own"}
	id := server.IntegrationID(server.DemoIntegrations()[0].ClientToken)
	rsp, err := ac.AdminWebhooksSetWithResponse(t.Context(), admin.AdminWebhooks{IntegrationId: id, Urls: before})
	if err != nil || rsp.JSON200 == nil {
		t.Fatalf("webhooks/set: %v %s", err, body(rsp))
	}
	return ts.URL, ac, before
}

func TestConversationRestoresTheWebhookURLs(t *testing.T) {
	url, ac, before := setup(t, server.Config{})
	if err := run(t.Context(), url, "secret"); err != nil {
		t.Fatal(err)
	}
	if got := urlsOf(t, ac); !slices.Equal(got, before) {
		t.Errorf("after the example the URLs are %v, want %v", got, before)
	}
}

// A run that fails half-way (here: no webhook ever comes, the dispatcher
// is off) puts the URLs back too.
func TestConversationRestoresTheWebhookURLsOnFailure(t *testing.T) {
	url, ac, before := setup(t, server.Config{Webhooks: server.WebhookOptions{Disabled: true}})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := run(ctx, url, "secret"); err == nil {
		t.Fatal("the example succeeded without webhooks")
	}
	if got := urlsOf(t, ac); !slices.Equal(got, before) {
		t.Errorf("after the failed example the URLs are %v, want %v", got, before)
	}
}
