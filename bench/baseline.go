package main

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/gen"
)

// newBaseline is the ceiling of this stack: an Echo server that decodes the
// same request bodies into the same generated types and answers each
// operation with a canned response, the bytes the real server gave to the
// same request. It validates nothing and stores nothing.
func newBaseline(canned map[string][]byte) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Each handler decodes into a fresh value, as a real handler would.
	e.POST(opThreadsAdd.path, decodeAndReply[gen.MessageThreadAddParameters](canned[opThreadsAdd.path]))
	e.POST(opMessagesAdd.path, decodeAndReply[gen.MessageAddParameters](canned[opMessagesAdd.path]))
	e.POST(opThreadsGetAll.path, decodeAndReply[gen.MessageThreadFilterParameters](canned[opThreadsGetAll.path]))
	e.POST(opMessagesGetAll.path, decodeAndReply[gen.MessageFilterParameters](canned[opMessagesGetAll.path]))
	return e
}

func decodeAndReply[T any](resp []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		var body T
		if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		c.Response().Header().Set("Request-Id", "baseline")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, resp)
	}
}
