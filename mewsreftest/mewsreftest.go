// Package mewsreftest runs a complete mewsref server inside a Go test, in the
// spirit of net/http/httptest and miniredis: one call starts it on a fresh
// in-memory store with the public demo tokens, and the test's cleanup stops
// it.
//
//	func TestMyIntegration(t *testing.T) {
//		srv := mewsreftest.New(t)
//		app := myapp.New(srv.URL(), mewsreftest.Demo(1)) // the code under test
//		...
//		srv.Reply(t, threadID, "The night desk is open.") // the hotel answers
//	}
//
// Options reach what the binary's flags reach (tokens, rate limit, faults,
// webhooks, a clock, a store); the returned Server plays the enterprise's
// side (Reply, Resolve, Reopen, Reset) and sees what it sees (Thread,
// Threads, Messages, Integrations), hands out ready Go clients,
// receives the MessageAdded webhooks of an integration (Webhooks), tells
// what the code under test sent (Requests, CountRequests, AssertCalled,
// ClearRequests: the request journal). Fixtures and snapshots: WithSeed starts it with a known history
// (a JSON or YAML file, as the binary's -seed), Import and ImportFile store
// threads and messages with their own identifiers and instants, Export
// returns them in the shape Import reads, and Redeliver sends a webhook
// again. It steers the test: fault rules (FaultsAdd, FaultsGetAll,
// FaultsClear) and the clock (WithClock, ClockGet, ClockSet, ClockAdvance,
// ClockRelease). The admin API is always on, with a token of the server's
// own (AdminToken).
package mewsreftest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
)

// Server is a mewsref server running in the test's process, on loopback.
type Server struct {
	ts         *httptest.Server
	adminToken string
	admin      *admin.ClientWithResponses
}

// Option configures the server that New starts.
type Option func(*settings)

type settings struct {
	cfg server.Config
	err error // of an option, reported by New
}

// WithTokens replaces or extends the demo tokens, as the binary's -config
// file does (see server.TokenConfig).
func WithTokens(cfg *server.TokenConfig) Option {
	return func(s *settings) { s.cfg.Tokens = cfg }
}

// WithRateLimit limits each AccessToken like the real API (-rate-limit):
// e.g. WithRateLimit(200, 30*time.Second). The windows follow the
// server's clock (WithClock, WithNow).
func WithRateLimit(requests int, window time.Duration) Option {
	return func(s *settings) { s.cfg.RateLimit = &server.RateLimit{Requests: requests, Window: window} }
}

// WithFaults injects failures and delays (-faults); see server.ParseFaults
// for the rules, e.g. "messages/add:500=0.5" with a seed.
func WithFaults(f *server.FaultConfig) Option {
	return func(s *settings) { s.cfg.Faults = f }
}

// WithWebhookOptions tunes the delivery of MessageAdded webhooks
// (timeout, attempts, backoff, poll interval).
func WithWebhookOptions(o server.WebhookOptions) Option {
	return func(s *settings) { s.cfg.Webhooks = o }
}

// WithNow gives the server a wall clock: the CreatedUtc of what it stores,
// the rate limit's windows and the webhooks' retries follow it. WithClock
// gives it a clock that the test can also freeze, set and advance through
// the admin API (ClockSet, ClockAdvance).
func WithNow(now func() time.Time) Option {
	return func(s *settings) { s.cfg.Now = now }
}

// WithStore keeps the data in st instead of a fresh in-memory SQLite
// store, e.g. a PostgreSQL store (postgres.Open) shared with other servers.
// The store stays the caller's to close; it must implement mews.Admin.
func WithStore(st mews.Store) Option {
	return func(s *settings) { s.cfg.Store = st }
}

// WithLogger sends the server's structured log (one line per request) to l.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) { s.cfg.Logger = l }
}

// WithBodyLimit sets the largest request body accepted (-body-limit).
func WithBodyLimit(bytes int64) Option {
	return func(s *settings) { s.cfg.BodyLimit = bytes }
}

// WithRequestTimeout sets the time budget of one request (-request-timeout).
func WithRequestTimeout(d time.Duration) Option {
	return func(s *settings) { s.cfg.RequestTimeout = d }
}

// New starts a server and registers its stop with tb.Cleanup. Without
// options it runs on a fresh in-memory store, accepts the public demo
// tokens, and enables the admin API with a token of its own. Every answer
// of the server is validated against its OpenAPI documents; a violation
// (a bug of mewsref) fails tb.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	st := settings{cfg: server.Config{AdminToken: rand.Text()}}
	for _, o := range opts {
		o(&st)
	}
	if st.err != nil {
		tb.Fatalf("mewsreftest: %v", st.err)
	}
	h, closeServer, err := server.New(st.cfg)
	if err != nil {
		tb.Fatalf("mewsreftest: start the server: %v", err)
	}
	// Every answer is checked against the server's own documents, as in
	// mewsref's tests (internal/apitest): one that breaks them is a bug of
	// mewsref, and fails tb.
	ts := httptest.NewServer(apitest.NewValidator(tb).Handler(tb, h))
	tb.Cleanup(func() {
		ts.Close() // waits for the requests in flight
		if err := closeServer(); err != nil {
			tb.Errorf("mewsreftest: stop the server: %v", err)
		}
	})
	s := &Server{ts: ts, adminToken: st.cfg.AdminToken}
	s.admin, err = admin.NewClientWithResponses(ts.URL, admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+s.adminToken)
		return nil
	}))
	if err != nil {
		tb.Fatalf("mewsreftest: admin client: %v", err)
	}
	return s
}

// URL is the root of the server, e.g. http://127.0.0.1:41234: what the
// code under test takes as the Mews platform's address (the operations are
// at URL()/api/connector/v1/...).
func (s *Server) URL() string { return s.ts.URL }

// AdminToken is the bearer token of the admin API (openapi/admin.yaml).
func (s *Server) AdminToken() string { return s.adminToken }

// Admin is a client of the admin API, authenticated with AdminToken.
func (s *Server) Admin() *admin.ClientWithResponses { return s.admin }

// The demo enterprises: every demo integration has an access token for
// each (Demo and DemoNetPricing).
var (
	DemoEnterprise           = server.DemoGrossPricingEnterprise
	DemoNetPricingEnterprise = server.DemoNetPricingEnterprise
)

// ClientName is the Client name that the clients of this package send.
const ClientName = "mewsreftest 1.0"

// Demo returns the credentials of the n-th public demo integration (1 to 4)
// with the access token of its gross-pricing enterprise
// (server.DemoGrossPricingEnterprise). It panics for another n.
func Demo(n int) client.Credentials {
	return demo(n, 0)
}

// DemoNetPricing is Demo with the access token of the net-pricing
// enterprise (server.DemoNetPricingEnterprise).
func DemoNetPricing(n int) client.Credentials {
	return demo(n, 1)
}

func demo(n, enterprise int) client.Credentials {
	list := server.DemoIntegrations()
	if n < 1 || n > len(list) {
		panic(fmt.Sprintf("mewsreftest: there are demo integrations 1 to %d, not %d", len(list), n))
	}
	in := list[n-1]
	return client.Credentials{ClientToken: in.ClientToken, AccessToken: in.AccessTokens[enterprise].Token, Client: ClientName}
}

// Client returns a client of the first demo integration, on its
// gross-pricing enterprise (Demo(1)).
func (s *Server) Client(opts ...client.Option) *client.Client {
	return s.ClientFor(Demo(1), opts...)
}

// ClientFor returns a client of this server with the given credentials;
// an empty Client name becomes ClientName. It panics if the credentials
// lack a token, a mistake of the test itself.
func (s *Server) ClientFor(creds client.Credentials, opts ...client.Option) *client.Client {
	if creds.Client == "" {
		creds.Client = ClientName
	}
	c, err := client.New(s.URL(), creds, opts...)
	if err != nil {
		panic("mewsreftest: " + err.Error())
	}
	return c
}

// IntegrationID is the identifier of the integration of clientToken when
// its configuration gives none, as for the demo integrations.
func IntegrationID(clientToken string) uuid.UUID { return server.IntegrationID(clientToken) }
