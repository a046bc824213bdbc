package mews

import (
	"errors"
	"fmt"
)

// Error codes: what went wrong, independent of the transport. The server maps
// each to an HTTP status in exactly one function.
const (
	EINVALID      = "invalid"      // the client's fault: bad input or broken business rule (400)
	EUNAUTHORIZED = "unauthorized" // unknown token or no permission (401)
	EFORBIDDEN    = "forbidden"    // a server-side validation meant for the end user (403)
	ENOTFOUND     = "not_found"    // unknown address (404)
	EMETHOD       = "method"       // known address, wrong HTTP method (405)
	ETIMEOUT      = "timeout"      // the request took too long (408)
	ETOOLARGE     = "too_large"    // the request body is over the limit (413)
	EMEDIATYPE    = "media_type"   // the request body is not JSON (415)
	ERATELIMIT    = "rate_limit"   // too many requests (429)
	EINTERNAL     = "internal"     // a fault of the server (500)
	EUNAVAILABLE  = "unavailable"  // the service is down for a while (503; fault rules only)
)

// Error is an error meant for the API client: Message is shown to it as is,
// so it names the property and the rule, never an internal detail.
type Error struct {
	Code    string
	Message string
	Details any // optional structured detail, shown to the client
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
