package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/console"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/mews"
)

// statusOf is the one mapping of error codes to HTTP statuses.
var statusOf = map[string]int{
	mews.EINVALID:      http.StatusBadRequest,
	mews.EUNAUTHORIZED: http.StatusUnauthorized,
	mews.EFORBIDDEN:    http.StatusForbidden,
	mews.ENOTFOUND:     http.StatusNotFound,
	mews.EMETHOD:       http.StatusMethodNotAllowed,
	mews.ETIMEOUT:      http.StatusRequestTimeout,
	mews.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	mews.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	mews.ERATELIMIT:    http.StatusTooManyRequests,
	mews.EINTERNAL:     http.StatusInternalServerError,
	mews.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// RetryAfter, as the Details of an ERATELIMIT error, sets the Retry-After
// header (whole seconds) of the 429 response. It travels in the header
// only, as on the real API: the body's Details is null, so that no client
// comes to depend on a body property the real API does not send (the
// Message says the wait in words).
type RetryAfter struct {
	Seconds int
}

// handleError is Echo's HTTPErrorHandler and the only place where an error
// becomes an HTTP response: the Mews error body with the status of its code.
// Errors that are not *mews.Error are internal: logged, never shown, unless
// the server runs with ExposeInternalErrors.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := s.clientError(err, c)
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	info := requestInfoFrom(c.Request().Context())
	if status == http.StatusInternalServerError {
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "internal error",
			slog.String("request_id", info.id), slog.String("path", c.Request().URL.Path), slog.Any("error", err))
	}
	info.err = e.Message
	h := c.Response().Header()
	details := e.Details
	if ra, ok := details.(RetryAfter); ok {
		h.Set("Retry-After", strconv.Itoa(ra.Seconds))
		details = nil
	}
	rid := info.id
	body := gen.ConnectorApiExceptionResult{Message: e.Message, RequestId: &rid, Details: details}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, body)
	}
	if err != nil {
		s.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing error response failed",
			slog.String("request_id", rid), slog.Any("error", err))
	}
}

// clientError translates any error into the error shown to the client.
func (s *Server) clientError(err error, c echo.Context) *mews.Error {
	var me *mews.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &me):
		return me
	case errors.As(err, &he):
		return fromEcho(he, c, s.tokens, s.admin)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return mews.Errorf(mews.ETIMEOUT, "The request took too long to process; request less data at once.")
	}
	e := mews.Errorf(mews.EINTERNAL, "Internal server error; the request id identifies it in the server's log.")
	if s.exposeErrors {
		e.Details = err.Error()
	}
	return e
}

// fromEcho translates the errors that Echo's router and the generated
// parameter binding produce. The path of an unknown address is shown with
// the configured tokens in it masked (tokens.maskPath): the message goes
// to the log and the journal too.
func fromEcho(he *echo.HTTPError, c echo.Context, t *tokens, admin bool) *mews.Error {
	r := c.Request()
	switch he.Code {
	case http.StatusNotFound:
		return notFound(r, t, admin)
	case http.StatusMethodNotAllowed:
		// Echo's router has set the Allow header of the address. Not
		// every address is an operation: the documents and the health
		// checks are GET.
		if allow := c.Response().Header().Get(echo.HeaderAllow); !strings.Contains(allow, http.MethodPost) {
			return mews.Errorf(mews.EMETHOD, "Method %s is not allowed at %s, which answers %s.", r.Method, r.URL.Path, allow)
		}
		return mews.Errorf(mews.EMETHOD, "Method %s is not allowed at %s; API operations are called with POST.", r.Method, r.URL.Path)
	case http.StatusRequestEntityTooLarge:
		return mews.Errorf(mews.ETOOLARGE, "The request body is too large.")
	case http.StatusUnsupportedMediaType:
		return mews.Errorf(mews.EMEDIATYPE, "Content-Type must be application/json.")
	}
	if he.Code >= 400 && he.Code < 500 {
		return mews.Errorf(mews.EINVALID, "%s", fmt.Sprint(he.Message))
	}
	return mews.Errorf(mews.EINTERNAL, "Internal server error; the request id identifies it in the server's log.")
}

// notFound is the 404 of an address that no route answers. It says where
// the operations are: an address of the admin API, of the console or of the
// admin API's documents, while they are off, says how to turn them on
// rather than pointing at the Connector API.
func notFound(r *http.Request, t *tokens, admin bool) *mews.Error {
	p := r.URL.Path
	at := r.Method + " " + t.maskPath(p, http.StatusNotFound)
	adminPath := strings.HasPrefix(p, AdminPrefix) || p == console.Prefix || strings.HasPrefix(p, console.Prefix+"/") ||
		p == pathAdminDocs || p == pathAdminSpecYAML || p == pathAdminSpecJSON
	switch {
	case adminPath && !admin:
		return mews.Errorf(mews.ENOTFOUND,
			"No operation at %s: the admin API and the console are off; they are on when the server is started with -admin-token TOKEN (server.Config.AdminToken).", at)
	case strings.HasPrefix(p, AdminPrefix):
		return mews.Errorf(mews.ENOTFOUND,
			"No operation at %s. Admin operations are POST %sv1/{resource}/{action}, case-sensitive, as listed by %s.", at, AdminPrefix, pathAdminSpecYAML)
	}
	return mews.Errorf(mews.ENOTFOUND,
		"No operation at %s. Operations are POST /api/connector/v1/{resource}/{action}, case-sensitive, without a trailing slash.", at)
}
