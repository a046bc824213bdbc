package apitest

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mewsref/mewsref/console"
)

// Besides the operations of its two documents, the server serves pages of
// its own: the reference (server/docs.go), the health probes
// (server/health.go) and the console (package console). No document
// describes them, so their responses are held to what every response of
// the server has, a Request-Id, and the probes' to their body, Health;
// any other address is outside the API and answered with the Mews error
// body (Check). The server's tests check that every route it registers
// is an operation or one of these (Page).
var (
	docsPages = []string{
		"/openapi.yaml", "/openapi.json", "/docs", "/docs/redoc.standalone.js",
		"/openapi/admin.yaml", "/openapi/admin.json", "/docs/admin",
	}
	healthPages = []string{"/healthz", "/readyz"}
)

// Page reports whether path is one of the server's pages outside the
// documents, and whether it is a health probe.
func Page(path string) (page, health bool) {
	for _, p := range healthPages {
		if path == p {
			return true, true
		}
	}
	for _, p := range docsPages {
		if path == p {
			return true, false
		}
	}
	return path == console.Prefix || strings.HasPrefix(path, console.Prefix+"/"), false
}

// streamed reports whether the response to path is validated by its header
// alone, as it passes: a page but a probe.
func streamed(path string) bool {
	page, isHealth := Page(path)
	return page && !isHealth
}

// health is the body of /healthz and /readyz (server.Health).
type health struct {
	Status *string
	Reason *string
}

// checkPage validates the response to one of the pages; body is read only
// for the probes (a page of the console may be an endless event stream).
func checkPage(path string, status int, header http.Header, body []byte) error {
	if header.Get("Request-Id") == "" {
		return &Violation{"no Request-Id header"}
	}
	if _, isHealth := Page(path); !isHealth || status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	var h health
	if err := dec.Decode(&h); err != nil {
		return &Violation{"the body of a probe is not its JSON: " + err.Error()}
	}
	switch {
	case h.Status == nil:
		return &Violation{"a probe's body without Status"}
	case status == http.StatusOK && (*h.Status != "ok" || h.Reason != nil):
		return &Violation{`a probe's 200 not {"Status":"ok"}`}
	case status == http.StatusServiceUnavailable && (*h.Status != "unavailable" || h.Reason == nil || *h.Reason == ""):
		return &Violation{`a probe's 503 not "unavailable" with a Reason`}
	case status != http.StatusOK && status != http.StatusServiceUnavailable:
		return &Violation{"a probe answers 200 or 503"}
	}
	return nil
}

// pageWriter passes a page's response through as it is written, events
// and flushes included, and checks its header when it is sent.
type pageWriter struct {
	http.ResponseWriter
	check       func(status int, header http.Header)
	wroteHeader bool
}

func (w *pageWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.check(status, w.Header())
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *pageWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *pageWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *pageWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
