// Package server implements the generated strict server interface of the
// messaging operations: request validation against the embedded spec, token
// authentication and tenancy, the business rules, and the mapping of every
// error to the Mews error body. Storage is behind mews.Store.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	oapiruntime "github.com/oapi-codegen/runtime"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/sqlite"
)

// Defaults of Config.
const (
	DefaultBodyLimit      = 8 << 20 // bytes; 1000 messages of a few KiB each
	DefaultRequestTimeout = 30 * time.Second
)

// Config configures a server; the zero value is a server on fresh in-memory
// storage that accepts the public demo tokens.
type Config struct {
	// Store keeps the data. Nil: a new in-memory SQLite store, closed by the
	// close function that New returns. A store given here is the caller's
	// to close.
	Store mews.Store
	// Tokens replaces or extends the demo tokens (see TokenConfig). Nil: the
	// public demo tokens only.
	Tokens *TokenConfig
	// Clock is the server's source of time (see package clock): a test
	// may freeze, set and advance it. With a store that implements
	// mews.Controls the clock's state is shared through the store: a
	// Clock given here stores its state there at New (a replica started
	// with -clock sets everybody's clock); nil adopts the stored state (a
	// real clock reading Now on a new database).
	Clock *clock.Clock
	// Now is the wall clock under Clock when Clock is nil. Nil: time.Now.
	Now func() time.Time
	// BodyLimit is the largest request body accepted, in bytes; larger
	// bodies are answered 413. Zero: DefaultBodyLimit.
	BodyLimit int64
	// RequestTimeout bounds the work of one request; past it the request is
	// answered 408. Zero: DefaultRequestTimeout; negative: no limit.
	RequestTimeout time.Duration
	// Logger receives one structured line per request and the internal
	// errors. Nil: nothing is logged.
	Logger *slog.Logger
	// ExposeInternalErrors puts the text of internal errors in the Details
	// of 500 responses. For development only.
	ExposeInternalErrors bool
	// RateLimit, when set, limits the requests of each AccessToken like
	// the real API does (429 with Retry-After). Nil: no limit.
	RateLimit *RateLimit
	// Faults, when set, fails or delays a share of the requests on
	// purpose, for rehearsing failures (see FaultConfig). Nil: none.
	Faults *FaultConfig
	// AdminToken, when set, enables the admin API under AdminPrefix
	// (openapi/admin.yaml), to callers that send it as a bearer token.
	// Empty: those routes do not exist (404).
	AdminToken string
	// Seed, when set, is imported at start like a data/import request
	// (see LoadFixture): threads and messages with their own identifiers
	// and instants, left as they are if stored already.
	Seed *admin.DataImportParameters
	// Stopping, when closed, ends the long-lived responses (the console's
	// event streams), so that http.Server.Shutdown need not wait for them:
	// close it when the shutdown begins. Nil: they end with their request
	// (RequestTimeout) or their client.
	Stopping <-chan struct{}
	// Webhooks tunes the delivery of MessageAdded webhooks. The dispatcher
	// runs when the admin API is enabled or some integration has webhook
	// URLs (in Tokens or stored), unless Webhooks.Disabled.
	Webhooks WebhookOptions
	// Journal is how many entries the request journal keeps: the newest
	// requests to the Connector API, for the requests/* operations of the
	// admin API. Zero: DefaultJournal; negative: no journal.
	Journal int
	// JournalStore keeps the journal. Nil: the Store, when it implements
	// mews.Journal (both engines do); otherwise there is no journal.
	JournalStore mews.Journal

	journalQueue int             // tests: the length of the journal's queue
	journalBytes int64           // tests: the bytes in flight it holds at most
	journalSeen  func(*recorder) // tests: handed the recorder
	seen         func(*Server)   // tests: handed the server (export_test.go)
}

// Server implements gen.StrictServerInterface.
type Server struct {
	store          mews.Store
	tokens         *tokens
	clk            *clock.Clock     // the one source of time
	clock          func() time.Time // clk.Now
	requestTimeout time.Duration
	log            *slog.Logger
	exposeErrors   bool
	limiter        *rateLimiter   // nil: no rate limit
	faults         *faultInjector // nil: no injected faults
	controls       mews.Controls  // fault rules and the shared clock; nil: the store has none
	admitter       mews.Admitter  // the store reads both in one round trip; nil: it does not
	webhooks       *dispatcher    // nil: webhooks are queued, not sent
	changes        *changes       // nil: no live views (no admin token)
	journal        *recorder      // nil: no request journal
	admin          bool           // the admin API and the console are on (Config.AdminToken)
	lastID         atomic.Int64   // of newID: milliseconds<<12 | sequence (handlers.go)
}

// New returns the whole server as an http.Handler, ready for httptest or
// http.Server, and a function that releases what New opened.
func New(cfg Config) (http.Handler, func() error, error) {
	tok, err := newTokens(cfg.Tokens)
	if err != nil {
		return nil, nil, err
	}
	doc, err := spec.Load(false)
	if err != nil {
		return nil, nil, err
	}
	var limiter *rateLimiter
	if cfg.RateLimit != nil {
		if err := cfg.RateLimit.validate(); err != nil {
			return nil, nil, fmt.Errorf("rate limit: %w", err)
		}
		limiter = newRateLimiter(*cfg.RateLimit)
	}
	var faults *faultInjector
	if cfg.Faults != nil {
		if faults, err = newFaultInjector(cfg.Faults); err != nil {
			return nil, nil, err
		}
	}
	closeFn := func() error { return nil }
	store := cfg.Store
	if store == nil {
		db, err := sqlite.Open(context.Background(), ":memory:")
		if err != nil {
			return nil, nil, fmt.Errorf("open in-memory store: %w", err)
		}
		store, closeFn = db, db.Close
	}
	s := &Server{
		store:          store,
		tokens:         tok,
		clk:            cfg.Clock,
		requestTimeout: cfg.RequestTimeout,
		log:            cfg.Logger,
		exposeErrors:   cfg.ExposeInternalErrors,
		limiter:        limiter,
		faults:         faults,
		admin:          cfg.AdminToken != "",
	}
	var clockInit *clock.State
	if s.clk == nil {
		s.clk = clock.New(cfg.Now, clock.State{})
	} else {
		st := s.clk.State()
		clockInit = &st
	}
	s.clock = s.clk.Now
	if c, ok := store.(mews.Controls); ok {
		s.controls = c
		s.admitter, _ = store.(mews.Admitter)
		if err := s.clk.Share(context.Background(), c, clockInit); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("share the clock through the store: %w", err), closeFn())
		}
	}
	if s.requestTimeout == 0 {
		s.requestTimeout = DefaultRequestTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	limit := cfg.BodyLimit
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	if cfg.AdminToken != "" {
		s.changes = newChanges(store, s.log)
	}
	adm, err := s.startWebhooks(cfg)
	if err != nil {
		s.changes.stop()
		return nil, nil, errors.Join(err, closeFn())
	}
	if keep := cmp.Or(cfg.Journal, DefaultJournal); keep > 0 {
		js := cfg.JournalStore
		if js == nil {
			js, _ = store.(mews.Journal)
		}
		if js != nil {
			if s.changes != nil {
				js = journalChanges{js, s.changes}
			}
			s.journal = newRecorder(js, keep, cfg.journalQueue, cfg.journalBytes, s.log)
			if cfg.journalSeen != nil {
				cfg.journalSeen(s.journal)
			}
		}
	}
	closeStore := closeFn
	closeFn = func() error {
		s.webhooks.stop()
		s.changes.stop()
		s.journal.stop() // writes what is queued
		return closeStore()
	}
	if cfg.Seed != nil {
		if err := s.seed(adm, *cfg.Seed); err != nil {
			return nil, nil, errors.Join(err, closeFn())
		}
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Binder = validatedBinder{}
	docs := []*openapi3.T{doc}
	var adminCheck func(echo.Context) error
	if cfg.AdminToken != "" {
		adminDoc, err := spec.LoadAdmin(false)
		if err != nil {
			return nil, nil, errors.Join(err, closeFn())
		}
		docs = append(docs, adminDoc)
		adminCheck = adminAuth(cfg.AdminToken)
		admin.RegisterHandlers(e, admin.NewStrictHandler(adminServer{s: s, store: adm}, nil))
	}
	val := newValidator(limit, docs...)
	e.Use(s.middleware(adminCheck, val))
	if cfg.AdminToken != "" {
		if err := s.registerConsole(e, adminServer{s: s, store: adm}, val, cfg); err != nil {
			return nil, nil, errors.Join(err, closeFn())
		}
	}
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	registerDocs(e, cfg.AdminToken != "") // GET /docs, /openapi.yaml, ... (docs.go)
	s.registerHealth(e)                   // GET /healthz, /readyz (health.go)
	if cfg.seen != nil {
		cfg.seen(s)
	}
	return e, closeFn, nil
}

// startWebhooks stores the webhook URLs of the token configuration and
// starts the dispatcher when there is anything to send or the admin API
// may configure it. It returns the store's admin side.
func (s *Server) startWebhooks(cfg Config) (mews.Admin, error) {
	adm, ok := s.store.(mews.Admin)
	if !ok {
		if cfg.AdminToken != "" {
			return nil, fmt.Errorf("the admin API needs a store that implements mews.Admin; %T does not", s.store)
		}
		return nil, nil
	}
	ctx := context.Background()
	for _, in := range s.tokens.integrations {
		if in.webhooks != nil {
			if err := adm.WebhooksSet(ctx, in.id, in.webhooks); err != nil {
				return nil, fmt.Errorf("store the webhooks of %q: %w", in.name, err)
			}
		}
	}
	hooks, err := adm.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkProfile(cfg.Webhooks.Profile); err != nil {
		return nil, err
	}
	if !cfg.Webhooks.Disabled && (cfg.AdminToken != "" || len(hooks) > 0) {
		s.webhooks = newDispatcher(adm, cfg.Webhooks, s.clk, s.log)
		s.webhooks.recorded = s.changes.changed
		s.webhooks.start()
	}
	return adm, nil
}

// now is the instant of a write: the server's clock as the stores keep it
// (UTC, to mews.Resolution). Responses show it truncated to the second.
func (s *Server) now() time.Time { return mews.Instant(s.clock()) }

// guarded runs the steps of a request after begin: the admin token's check
// (adminCheck, nil without the admin API) before the body is read or
// validated, then validation, then the handler. A panic in any of them
// becomes an internal error, logged with its stack, so that no client input
// can take the process down.
func (s *Server) guarded(c echo.Context, next echo.HandlerFunc, adminCheck func(echo.Context) error, val *validator) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic", "request_id", RequestID(c.Request().Context()), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	if adminCheck != nil {
		if err := adminCheck(c); err != nil {
			return err
		}
	}
	return val.validate(c, next)
}

var errNotValidated = errors.New("request body reached the handler without validation")

// validatedBinder binds only the value that request validation checked:
// the value of the generated decoder (decodedBody), as it is, or the value
// kin-openapi validated, matching member names exactly; there is no
// fallback to decoding the raw body again.
type validatedBinder struct{}

func (validatedBinder) Bind(i any, c echo.Context) error {
	if db, ok := c.Request().Body.(*decodedBody); ok {
		if gen.BindDecoded(db.value, i) {
			return nil
		}
		return errNotValidated
	}
	vb, ok := c.Request().Body.(interface{ ValidatedValue() any })
	if !ok {
		return errNotValidated
	}
	if err := oapiruntime.BindJSONValue(vb.ValidatedValue(), i); err != nil {
		return mews.Errorf(mews.EINVALID, "The request body does not match the schema of the operation.")
	}
	return nil
}
