package server

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

type requestInfoKey struct{}

// requestInfo travels with a request so that the access log line can say who
// called and why it failed, with tokens masked, and the request journal what
// it knows of the request.
type requestInfo struct {
	id          string
	uuid        uuid.UUID // id
	integration string    // name of the authenticated integration
	accessToken string    // masked
	err         string    // Message of the error answered, if any

	// For the request journal (journal.go), which masks the tokens.
	received       time.Time // in the server's clock
	body           []byte    // the request body as read by validation
	clientToken    string    // as sent, once the handler has it
	rawAccessToken string
	accessDigest   *tokenKey // SHA-256 of rawAccessToken, once authenticated (tokens.go)
	integrationID  uuid.UUID
	enterprises    []uuid.UUID // the enterprises the request acts in
	threads        []uuid.UUID // named by the request, or created
}

// requestContext carries the requestInfo of a request: one allocation for
// both, and the info found at the first step of a lookup. It also holds
// what else a request needs once: its decoded body (validate.go) and the
// value of its Request-Id header.
type requestContext struct {
	context.Context
	info     requestInfo
	body     decodedBody
	idHeader [1]string
}

func (c *requestContext) Value(key any) any {
	if key == (requestInfoKey{}) {
		return &c.info
	}
	return c.Context.Value(key)
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	if c, ok := ctx.(*requestContext); ok {
		return &c.info
	}
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// newRequestID returns a random (version 4) UUID drawn from math/rand/v2,
// whose generator is seeded by the system and needs no system call nor
// allocation per id: a request id must be unique, not secret.
func newRequestID() uuid.UUID {
	var id uuid.UUID
	binary.LittleEndian.PutUint64(id[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// RequestID returns the id of the request being served, as sent in its
// Request-Id response header.
func RequestID(ctx context.Context) string { return requestInfoFrom(ctx).id }

// middleware is the server's one Echo middleware, all of every request's
// steps around its handler: begin, then guarded (the admin token's check,
// validation, the handler). One, because Echo applies the middleware of an
// instance to the route's handler again for every request, a closure each.
func (s *Server) middleware(adminCheck func(echo.Context) error, val *validator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return s.begin(c, next, adminCheck, val) }
	}
}

// begin gives every request an id (the Request-Id header of every response),
// a deadline after which it answers 408, and one structured log line, and
// runs the rest (guarded).
func (s *Server) begin(c echo.Context, next echo.HandlerFunc, adminCheck func(echo.Context) error, val *validator) error {
	start := time.Now()
	ctx := c.Request().Context()
	if s.requestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.requestTimeout)
		defer cancel()
	}
	id := newRequestID()
	rc := &requestContext{Context: ctx, info: requestInfo{id: id.String(), uuid: id}}
	info := &rc.info
	ctx = rc
	c.SetRequest(c.Request().WithContext(ctx))
	// The key as Header.Set writes it, and a value that needs no slice
	// of its own.
	rc.idHeader[0] = info.id
	c.Response().Header()["Request-Id"] = rc.idHeader[:]
	// Every instant of the request is on the clock as all replicas
	// see it now.
	s.syncClock(ctx, c.Request().URL.Path)
	if journal := s.journalRequest(&c.Response().Writer, c.Request(), info); journal != nil {
		// Deferred, so that a panic past recoverPanic (an
		// http.ErrAbortHandler) still queues the entry: its ticket,
		// taken when the answer started, would hold up every read of
		// the journal until its request budget.
		defer func() {
			s.journalResponse(journal, &c.Response().Writer, c.Request(), info, c.Response().Status, time.Since(start))
		}()
	}

	err := s.guarded(c, next, adminCheck, val)
	if err != nil {
		c.Error(err)
	}
	status := c.Response().Status
	level := slog.LevelInfo
	switch {
	case status >= http.StatusInternalServerError:
		level = slog.LevelError
	case isHealthPath(c.Request().URL.Path):
		level = slog.LevelDebug // probes (health.go)
	}
	if s.log.Enabled(ctx, level) {
		attrs := []slog.Attr{
			slog.String("request_id", info.id),
			slog.String("method", c.Request().Method),
			slog.String("path", s.tokens.maskPath(c.Request().URL.Path, status)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
		}
		if info.integration != "" {
			attrs = append(attrs, slog.String("integration", info.integration), slog.String("access_token", info.accessToken))
		}
		if info.err != "" {
			attrs = append(attrs, slog.String("error", info.err))
		}
		s.log.LogAttrs(ctx, level, "request", attrs...)
	}
	return nil
}
