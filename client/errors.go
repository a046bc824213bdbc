package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is an answer of the API other than a success: any status outside
// 200 (and 204 for an empty page). Every error the API answers, from 400 to
// 500, has the same body, so one type serves all of them; switch on
// StatusCode to tell them apart. Retrieve it with errors.As.
//
// Field names follow the API's property names (RequestId, not RequestID) so
// that they can be matched against the Mews documentation and the body.
type Error struct {
	// StatusCode is the HTTP status of the answer, e.g. 400.
	StatusCode int

	// Message is the Message of the error body: what was wrong and where
	// (the property path). For a body that is not the API's JSON (a proxy's
	// error page, say) it is the start of the body's text, or the status
	// text when the body is empty.
	Message string

	// RequestId identifies the request in the server's logs; quote it when
	// reporting a problem. It comes from the body and, when the body has
	// none, from the Request-Id header. Empty when the server sent neither.
	RequestId string

	// Details is the Details of the error body decoded as JSON (maps,
	// slices, strings, float64 ...), or nil.
	Details any

	// RetryAfter is the wait that the server asked for in the Retry-After
	// header (with 429), or 0 when it sent none. It is set even when the
	// client did not retry, so that the caller can schedule the retry
	// itself.
	RetryAfter time.Duration
}

// Error returns e.g. "mews: 400 Limitation.Count must be between 1 and 1000.
// (request 0d4c0f4e-...)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mews: ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Message != "" {
		b.WriteByte(' ')
		b.WriteString(e.Message)
	}
	if e.RequestId != "" {
		b.WriteString(" (request ")
		b.WriteString(e.RequestId)
		b.WriteByte(')')
	}
	return b.String()
}

const (
	// maxErrorBody bounds what is read of an error body: the API's are a few
	// hundred bytes, and a misbehaving proxy must not make us buffer megabytes.
	maxErrorBody = 64 << 10
	// maxTextMessage bounds the Message taken from a body that is not JSON.
	maxTextMessage = 200
)

// newError reads and closes the body of an unsuccessful response and
// describes it as an *Error.
func newError(rsp *http.Response) *Error {
	body, _ := io.ReadAll(io.LimitReader(rsp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(rsp.Body, maxErrorBody)) // let the connection be reused
	_ = rsp.Body.Close()
	return errorFrom(rsp.StatusCode, rsp.Header, body)
}

// errorFrom builds an *Error from a status, headers and body. The body is
// decoded as the API's error body whatever its Content-Type says, because
// the useful part (Message) is worth more than strictness here; a body that
// is not such JSON still gives an *Error with the right status.
func errorFrom(status int, h http.Header, body []byte) *Error {
	e := &Error{StatusCode: status, RequestId: h.Get("Request-Id")}
	var payload struct {
		Message   *string         `json:"Message"`
		RequestId *string         `json:"RequestId"`
		Details   json.RawMessage `json:"Details"`
	}
	if err := json.Unmarshal(body, &payload); err == nil && payload.Message != nil {
		e.Message = *payload.Message
		if payload.RequestId != nil && *payload.RequestId != "" {
			e.RequestId = *payload.RequestId
		}
		if len(payload.Details) > 0 {
			var details any
			if json.Unmarshal(payload.Details, &details) == nil {
				e.Details = details
			}
		}
	} else if text := strings.Join(strings.Fields(string(body)), " "); text != "" {
		e.Message = truncate(text, maxTextMessage)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if d, ok := parseRetryAfter(h.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

// parseRetryAfter reads a Retry-After header: whole seconds, as the Mews API
// sends, or an HTTP date, which HTTP also allows and some proxies send.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfterSeconds) {
			secs = maxRetryAfterSeconds // no overflow of time.Duration
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// maxRetryAfterSeconds is about 290 years less a margin; larger values are
// clamped to it so that converting to a Duration cannot overflow.
const maxRetryAfterSeconds = 1 << 33

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// unexpected describes a success status that does not fit the operation
// (a 200 that is not JSON, a 204 from an add).
func unexpected(op string, rsp *http.Response) error {
	msg := fmt.Sprintf("mews: %s: unexpected answer %d with Content-Type %q", op, rsp.StatusCode, rsp.Header.Get("Content-Type"))
	if id := rsp.Header.Get("Request-Id"); id != "" {
		msg += " (request " + id + ")"
	}
	return errors.New(msg)
}
