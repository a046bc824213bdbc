package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/console"
	"github.com/mewsref/mewsref/mews"
)

// registerConsole serves the console (package console) under
// console.Prefix, on the admin API's implementation: its pages and actions
// are calls of api's methods, with bodies validated by val like the admin
// API's requests, and it follows s.changes.
func (s *Server) registerConsole(e *echo.Echo, api adminServer, val *validator, cfg Config) error {
	h, err := console.New(console.Config{
		API: api, Check: val.check, Changes: s.changes, Token: cfg.AdminToken, Problem: s.problem,
		Stopping: cfg.Stopping, Log: s.log,
	})
	if err != nil {
		return err
	}
	wrapped := echo.WrapHandler(h)
	e.Any(console.Prefix, wrapped)
	e.Any(console.Prefix+"/*", wrapped)
	return nil
}

// problem is what the console shows of an error: the status and message the
// API would answer (statusOf); internal errors are logged, never shown.
func (s *Server) problem(ctx context.Context, err error) (int, string) {
	var me *mews.Error
	if errors.As(err, &me) {
		if status := statusOf[me.Code]; status != 0 && status != http.StatusInternalServerError {
			return status, me.Message
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return statusOf[mews.ETIMEOUT], "The request took too long to process."
	}
	s.log.LogAttrs(ctx, slog.LevelError, "internal error", slog.String("request_id", RequestID(ctx)), slog.Any("error", err))
	return http.StatusInternalServerError, "Internal server error; the request id " + RequestID(ctx) + " identifies it in the server's log."
}
