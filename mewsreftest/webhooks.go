package mewsreftest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

// MessageAdded is one event of a MessageAdded General Webhook: the message
// MessageId was added to a thread of EnterpriseId created by IntegrationId.
// Like the real platform's, the event carries only identifiers; the
// integration reads the message with messages/getAll.
type MessageAdded struct {
	MessageId     uuid.UUID
	EnterpriseId  uuid.UUID
	IntegrationId uuid.UUID
}

// Receiver is a webhook receiver on loopback that the server sends an
// integration's MessageAdded webhooks to; it answers each with 200 and
// hands the test its events in the order they arrive (Next).
type Receiver struct {
	ts *httptest.Server

	mu       sync.Mutex
	queue    []MessageAdded // arrived, not yet taken by Next
	taken    []MessageAdded // already handed out, for failure messages
	arrived  chan struct{}  // closed and replaced whenever events arrive
	problems []string       // bodies that were not a General Webhook
}

// Webhooks points the webhooks of the first demo integration (Demo(1)) at
// a new Receiver, stopped with tb.Cleanup; see WebhooksFor.
func (s *Server) Webhooks(tb testing.TB) *Receiver {
	tb.Helper()
	return s.WebhooksFor(tb, IntegrationID(Demo(1).ClientToken))
}

// WebhooksFor sets the webhook URLs of the integration (webhooks/set) to a
// new Receiver, replacing those it had, and returns the receiver. The
// integration's URLs are emptied again when the test ends.
func (s *Server) WebhooksFor(tb testing.TB, integration uuid.UUID) *Receiver {
	tb.Helper()
	r := &Receiver{arrived: make(chan struct{})}
	r.ts = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.ts.Close)
	s.setWebhooks(tb, integration, []string{r.ts.URL + "/webhooks"})
	tb.Cleanup(func() { s.setWebhooks(tb, integration, []string{}) })
	return r
}

func (s *Server) setWebhooks(tb testing.TB, integration uuid.UUID, urls []string) {
	tb.Helper()
	res, err := s.admin.AdminWebhooksSetWithResponse(context.Background(), admin.AdminWebhooks{IntegrationId: integration, Urls: urls})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "webhooks/set", err)
}

// URL is the address the webhooks are sent to.
func (r *Receiver) URL() string { return r.ts.URL + "/webhooks" }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var hook admin.GeneralWebhook
	if err == nil {
		err = json.Unmarshal(body, &hook)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s: %v", body, err))
		http.Error(w, "not a General Webhook", http.StatusBadRequest)
		return
	}
	for _, e := range hook.Events {
		if e.Discriminator == admin.MessageAdded {
			r.queue = append(r.queue, MessageAdded{MessageId: e.Value.Id, EnterpriseId: hook.EnterpriseId, IntegrationId: hook.IntegrationId})
		}
	}
	close(r.arrived)
	r.arrived = make(chan struct{})
	w.WriteHeader(http.StatusOK)
}

// Next returns the next MessageAdded event, waiting for it at most
// timeout; past it, the test fails with what did arrive. Deliveries are at
// least once, as on the real platform, so a test that restarts things may
// see an event twice.
func (r *Receiver) Next(tb testing.TB, timeout time.Duration) MessageAdded {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if len(r.queue) > 0 {
			e := r.queue[0]
			r.queue = r.queue[1:]
			r.taken = append(r.taken, e)
			r.mu.Unlock()
			return e
		}
		arrived := r.arrived
		r.mu.Unlock()
		select {
		case <-arrived:
		case <-timer.C:
			tb.Fatalf("mewsreftest: no MessageAdded webhook at %s within %v; %s", r.URL(), timeout, r.summary())
			return MessageAdded{}
		}
	}
}

// Received returns the events that arrived and were not yet taken by Next,
// without waiting.
func (r *Receiver) Received() []MessageAdded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]MessageAdded(nil), r.queue...)
}

func (r *Receiver) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%d event(s) taken before", len(r.taken))
	for _, e := range r.taken {
		fmt.Fprintf(&b, " %s", e.MessageId)
	}
	for _, p := range r.problems {
		fmt.Fprintf(&b, "; a body that is not a General Webhook: %s", p)
	}
	return b.String()
}
