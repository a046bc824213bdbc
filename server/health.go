package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Health checks for orchestrators and CI scripts: GET /healthz answers 200
// as long as the process serves; GET /readyz answers 200 when the store
// answers a query, 503 with the reason otherwise. Like /docs they are
// outside the API's paths and its spec: never validated, rate-limited,
// faulted or counted against a token, and logged at debug level only (a
// probe every few seconds would drown the request lines). Every answer has
// a Request-Id.
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// readyTimeout bounds the store's answer to a readiness probe.
const readyTimeout = 5 * time.Second

// Pinger is what a store implements to be asked whether it answers. A
// store without it is ready whenever the process serves.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string // "ok" or "unavailable"
	Reason string `json:",omitempty"` // why not ready
}

func (s *Server) registerHealth(e *echo.Echo) {
	e.GET(PathHealthz, func(c echo.Context) error {
		return c.JSON(http.StatusOK, Health{Status: "ok"})
	})
	e.GET(PathReadyz, func(c echo.Context) error {
		if p, ok := s.store.(Pinger); ok {
			ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				s.log.Warn("not ready: the store failed its check (a query, or a failed sync before)", "request_id", RequestID(ctx), "error", err.Error())
				return c.JSON(http.StatusServiceUnavailable, Health{Status: "unavailable", Reason: "the store failed its check: " + err.Error()})
			}
		}
		return c.JSON(http.StatusOK, Health{Status: "ok"})
	})
}

func isHealthPath(path string) bool { return path == PathHealthz || path == PathReadyz }
