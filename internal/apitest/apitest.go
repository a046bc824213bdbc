// Package apitest checks, in tests, that every response the server sends
// conforms to the embedded OpenAPI documents, with datetimes in the exact
// form 2006-01-02T15:04:05Z, and that those of its pages outside them
// (pages.go) carry a Request-Id. It loads the documents through
// internal/spec, not package server, so that server's internal tests use
// it too.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mewsref/mewsref/internal/spec"
)

// Validator validates responses against the spec of the messaging API and
// that of the admin API (openapi/admin.yaml), each route against its own.
type Validator struct {
	*documents

	mu    sync.Mutex
	count int
}

// documents are the loaded specs and what validation reads of them: loaded
// once per process (loadDocuments) and only read afterwards, so every
// Validator shares them, as the server shares its document between
// concurrent requests. Loading both costs some 40 ms and 4.6 MB, once for
// every test (mewsreftest.New makes a Validator per server).
type documents struct {
	doc    *openapi3.T
	routes map[string]*routers.Route
	opts   map[*openapi3.T]*openapi3filter.Options
}

var loadDocuments = sync.OnceValues(func() (*documents, error) {
	doc, err := spec.Load(true)
	if err != nil {
		return nil, err
	}
	adminDoc, err := spec.LoadAdmin(true)
	if err != nil {
		return nil, err
	}
	d := &documents{doc: doc, routes: spec.OperationRoutes(doc), opts: map[*openapi3.T]*openapi3filter.Options{}}
	for path, r := range spec.OperationRoutes(adminDoc) {
		d.routes[path] = r
	}
	for _, t := range []*openapi3.T{doc, adminDoc} {
		d.opts[t] = &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: t.GetSchemaValidationOptions(),
		}
	}
	return d, nil
})

// NewValidator returns a validator of the embedded specs with the strict
// response formats.
func NewValidator(t testing.TB) *Validator {
	t.Helper()
	d, err := loadDocuments()
	if err != nil {
		t.Fatal(err)
	}
	return &Validator{documents: d}
}

// Count is the number of responses validated so far.
func (v *Validator) Count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.count
}

// Check validates one response to req. Responses to the server's pages
// outside the documents are checked as pages.go says; to any other address
// outside the documents (404, 405), they must be the Mews error body with
// a Request-Id.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	v.mu.Lock()
	v.count++
	v.mu.Unlock()
	route, ok := v.routes[req.URL.Path]
	if !ok || req.Method != route.Method {
		if !ok {
			if page, _ := Page(req.URL.Path); page {
				return checkPage(req.URL.Path, status, header, body)
			}
		}
		return v.checkErrorBody(header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                v.opts[route.Spec],
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if status >= 400 {
		return v.checkErrorBody(header, body)
	}
	return nil
}

type errorBody struct {
	Message   *string         `json:"Message"`
	RequestID *string         `json:"RequestId"`
	Details   json.RawMessage `json:"Details"`
}

func (v *Validator) checkErrorBody(header http.Header, body []byte) error {
	schema := v.doc.Components.Schemas["ConnectorApiExceptionResult"].Value
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return &Violation{"error body is not JSON: " + err.Error()}
	}
	if err := schema.VisitJSON(doc, v.doc.GetSchemaValidationOptions()...); err != nil {
		return err
	}
	var e errorBody
	_ = json.Unmarshal(body, &e)
	rid := header.Get("Request-Id")
	if rid == "" {
		return &Violation{"no Request-Id header"}
	}
	if e.RequestID == nil || *e.RequestID != rid {
		return &Violation{"RequestId of the body differs from the Request-Id header " + rid}
	}
	if e.Message == nil || *e.Message == "" {
		return &Violation{"empty Message"}
	}
	return nil
}

// Violation is a response that breaks the contract beyond the schema.
type Violation struct{ What string }

func (v *Violation) Error() string { return v.What }

// Handler wraps h so that every response is validated; a violation fails t.
// The responses of the operations are buffered to be validated whole; those
// of the server's pages pass through as they are written (the console's
// event stream does not end), their header checked when it is sent.
func (v *Validator) Handler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streamed(r.URL.Path) {
			h.ServeHTTP(&pageWriter{ResponseWriter: w, check: func(status int, header http.Header) {
				if err := v.Check(r, status, header, nil); err != nil {
					t.Errorf("response to %s %s (status %d) violates the contract: %v", r.Method, r.URL.Path, status, err)
				}
			}}, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		body := rec.Body.Bytes()
		if err := v.Check(r, res.StatusCode, res.Header, body); err != nil {
			t.Errorf("response to %s %s (status %d) violates the spec: %v\nbody: %s", r.Method, r.URL.Path, res.StatusCode, err, body)
		}
		for k, vals := range res.Header {
			w.Header()[k] = vals
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(body)
	})
}

// Server starts h behind httptest with every response validated.
func Server(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	v := NewValidator(t)
	ts := httptest.NewServer(v.Handler(t, h))
	t.Cleanup(ts.Close)
	return ts
}

// Transport wraps next (nil: http.DefaultTransport) so that every response
// that comes back through it is validated, a violation failing t. It is how
// the contract tests check a server they reach only over the network, e.g.
// one started separately or the vendor's demo environment: give it to the
// client under test as its http.Client's Transport. The request is only
// read (method and path), never changed.
func (v *Validator) Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &validatingTransport{t: t, v: v, next: next}
}

type validatingTransport struct {
	t    testing.TB
	v    *Validator
	next http.RoundTripper
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := vt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if streamed(req.URL.Path) {
		// Left unread: a page of the console may be an endless stream.
		if err := vt.v.Check(req, res.StatusCode, res.Header, nil); err != nil {
			vt.t.Errorf("response to %s %s (status %d) violates the contract: %v", req.Method, req.URL.Path, res.StatusCode, err)
		}
		return res, nil
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	// The client reads the body after us: give it an unread copy.
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := vt.v.Check(req, res.StatusCode, res.Header, body); err != nil {
		vt.t.Errorf("response to %s %s (status %d) violates the spec: %v\nbody: %s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
	return res, nil
}
