// Package spec loads the embedded OpenAPI documents (gen/, gen/admin) with
// the string formats that the server enforces. The server validates
// requests with them; internal/apitest validates, in tests, the responses
// with the same documents. It is a package of its own so that apitest
// does not import package server, whose internal tests use apitest too.
package spec

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/reqrt"
)

// uuidPattern is the canonical textual form of a UUID, any version: Mews
// identifiers are not all RFC 4122 version 4.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a UUID in its canonical textual form, as the
// documents' "uuid" format demands.
func IsUUID(s string) bool { return uuidPattern.MatchString(s) }

// ResponseTimeLayout is the only form in which the server writes datetimes.
const ResponseTimeLayout = "2006-01-02T15:04:05Z"

var (
	errNotUUID     = errors.New("not a UUID")
	errNotRFC3339  = errors.New("not an RFC 3339 date-time")
	errNotUTCForm  = errors.New("not of the form 2006-01-02T15:04:05Z")
	errNoSpecPaths = errors.New("embedded spec has no paths")
)

// Load returns the embedded OpenAPI document of the messaging API with the
// string formats that the server enforces: "uuid" (kin-openapi skips it by
// default) and "date-time". Requests may carry any RFC 3339 instant
// (reqrt.ParseDateTime); with strictTimes the document instead demands the
// exact UTC form the server writes (ResponseTimeLayout), which is what
// response validation in tests uses.
//
// The validators are scoped to the returned document, not registered
// globally, so a request document and a response document can coexist.
func Load(strictTimes bool) (*openapi3.T, error) {
	return prepare(gen.GetSwagger, strictTimes)
}

// LoadAdmin is Load for the admin API (openapi/admin.yaml).
func LoadAdmin(strictTimes bool) (*openapi3.T, error) {
	return prepare(admin.GetSwagger, strictTimes)
}

func prepare(load func() (*openapi3.T, error), strictTimes bool) (*openapi3.T, error) {
	doc, err := load()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return nil, errNoSpecPaths
	}
	// The servers of the document name the vendor's host; requests reach us
	// on any address, so route matching must not depend on them.
	doc.Servers = nil
	doc.SetStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if !IsUUID(s) {
			return errNotUUID
		}
		return nil
	}))
	doc.SetStringFormatValidator("date-time", openapi3.NewCallbackValidator(func(s string) error {
		if strictTimes {
			if t, err := time.Parse(ResponseTimeLayout, s); err != nil || t.Format(ResponseTimeLayout) != s {
				return errNotUTCForm
			}
			return nil
		}
		if _, err := reqrt.ParseDateTime(s); err != nil {
			return errNotRFC3339
		}
		return nil
	}))
	return doc, nil
}

// OperationRoutes indexes the operations of doc by path. Every operation of
// the API has its own path, so the path alone finds it; Echo has already
// matched the path exactly when a request gets here.
func OperationRoutes(doc *openapi3.T) map[string]*routers.Route {
	routes := make(map[string]*routers.Route)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			routes[path] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return routes
}
