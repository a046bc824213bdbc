package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/openapi"
	"github.com/mewsref/mewsref/server"
)

// docsServer serves the whole server, every response validated (the pages
// outside the documents for their Request-Id, apitest.Page).
func docsServer(t *testing.T) *httptest.Server {
	t.Helper()
	h, closeFn, err := server.New(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	return apitest.Server(t, h)
}

// adminDocsServer is docsServer with the admin API on.
func adminDocsServer(t *testing.T) *httptest.Server {
	t.Helper()
	h, closeFn, err := server.New(server.Config{AdminToken: "docs-admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	return apitest.Server(t, h)
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Request-Id") == "" {
		t.Errorf("GET %s: no Request-Id header", req.URL.Path)
	}
	return res, body
}

func TestSpecIsPublishedVerbatimAndMatchesTheGeneratedCode(t *testing.T) {
	ts := docsServer(t)

	res, yamlBody := get(t, ts.URL+"/openapi.yaml", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("/openapi.yaml: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if string(yamlBody) != openapi.MessagingYAML {
		t.Error("/openapi.yaml is not the text of openapi/messaging.yaml")
	}

	res, jsonBody := get(t, ts.URL+"/openapi.json", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	fromJSON, err := openapi3.NewLoader().LoadFromData(jsonBody)
	if err != nil {
		t.Fatalf("/openapi.json does not load: %v", err)
	}
	if err := fromJSON.Validate(t.Context()); err != nil {
		t.Errorf("/openapi.json is not a valid document: %v", err)
	}

	// The YAML that maintainers edit and the spec compiled into the server
	// (gen/) must say the same; they differ when gen/ was not regenerated.
	fromYAML, err := openapi3.NewLoader().LoadFromData(yamlBody)
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := canonicalJSON(t, fromJSON), canonicalJSON(t, fromYAML); !bytes.Equal(a, b) {
		t.Error("/openapi.json and /openapi.yaml differ")
	}
	if a, b := canonicalJSON(t, fromYAML), canonicalJSON(t, compiled); !bytes.Equal(a, b) {
		t.Error("openapi/messaging.yaml differs from the spec embedded in gen/: run go generate ./...")
	}
}

// canonicalJSON is doc as JSON with sorted keys. The generator capitalises
// operationIds in the spec it embeds, so they are compared in lower case.
func canonicalJSON(t *testing.T, doc *openapi3.T) []byte {
	t.Helper()
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			op.OperationID = strings.ToLower(op.OperationID)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(v) // maps marshal with sorted keys
	return b
}

// externalURL finds an absolute URL that a page could load from elsewhere.
var externalURL = regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//`)

func TestDocsPageLoadsOnlyWhatTheServerServes(t *testing.T) {
	ts := docsServer(t)
	res, page := get(t, ts.URL+"/docs", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if m := externalURL.Find(page); m != nil {
		t.Errorf("/docs loads something from another host: %s", m)
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("/docs must forbid loading from other hosts, CSP is %q", csp)
	}
	for _, ref := range []string{`spec-url="openapi.yaml"`, `src="docs/redoc.standalone.js"`} {
		if !bytes.Contains(page, []byte(ref)) {
			t.Errorf("/docs does not reference %s", ref)
		}
	}

	res, js := get(t, ts.URL+"/docs/redoc.standalone.js", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || len(js) < 100_000 {
		t.Fatalf("redoc bundle: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(js))
	}
	etag := res.Header.Get("ETag")
	res, _ = get(t, ts.URL+"/docs/redoc.standalone.js", http.Header{"If-None-Match": {etag}})
	if etag == "" || res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q: status %d, want 304", etag, res.StatusCode)
	}
}

func TestDocsRoutesAreExact(t *testing.T) {
	ts := docsServer(t)
	for _, p := range []string{"/docs/", "/docs/other.js", "/openapi.yml"} {
		res, body := get(t, ts.URL+p, nil)
		if res.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte(`"RequestId"`)) {
			t.Errorf("GET %s: %d %s, want 404 with the Mews error body", p, res.StatusCode, body)
		}
	}
}

// The same for the admin API: openapi/admin.yaml and gen/admin agree.
func TestAdminSpecMatchesGenerated(t *testing.T) {
	fromYAML, err := openapi3.NewLoader().LoadFromData([]byte(openapi.AdminYAML))
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := admin.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := canonicalJSON(t, fromYAML), canonicalJSON(t, compiled); !bytes.Equal(a, b) {
		t.Error("openapi/admin.yaml differs from the spec embedded in gen/admin: run go generate ./...")
	}
}

func TestAdminSpecIsPublishedAndLinkedWhenTheAdminAPIIsOn(t *testing.T) {
	ts := adminDocsServer(t)
	res, yamlBody := get(t, ts.URL+"/openapi/admin.yaml", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/yaml") || string(yamlBody) != openapi.AdminYAML {
		t.Fatalf("/openapi/admin.yaml: %d %s, verbatim: %t", res.StatusCode, res.Header.Get("Content-Type"), string(yamlBody) == openapi.AdminYAML)
	}
	res, jsonBody := get(t, ts.URL+"/openapi/admin.json", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/openapi/admin.json: %d", res.StatusCode)
	}
	fromJSON, err := openapi3.NewLoader().LoadFromData(jsonBody)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := openapi3.NewLoader().LoadFromData(yamlBody)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canonicalJSON(t, fromJSON), canonicalJSON(t, fromYAML)) {
		t.Error("/openapi/admin.json and /openapi/admin.yaml differ")
	}
	res, page := get(t, ts.URL+"/docs/admin", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("/docs/admin: %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	for _, ref := range []string{`spec-url="../openapi/admin.yaml"`, `src="redoc.standalone.js"`, `href="../docs"`} {
		if !bytes.Contains(page, []byte(ref)) {
			t.Errorf("/docs/admin does not reference %s", ref)
		}
	}
	if m := externalURL.Find(page); m != nil {
		t.Errorf("/docs/admin loads something from another host: %s", m)
	}
	if _, page := get(t, ts.URL+"/docs", nil); !bytes.Contains(page, []byte(`href="docs/admin"`)) {
		t.Error("/docs does not link to /docs/admin")
	}
}

func TestAdminSpecIsNotPublishedWhenTheAdminAPIIsOff(t *testing.T) {
	ts := docsServer(t)
	for _, p := range []string{"/openapi/admin.yaml", "/openapi/admin.json", "/docs/admin"} {
		if res, _ := get(t, ts.URL+p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with the admin API off: %d, want 404", p, res.StatusCode)
		}
	}
	if _, page := get(t, ts.URL+"/docs", nil); bytes.Contains(page, []byte("docs/admin")) || bytes.Contains(page, []byte("<!--nav-->")) {
		t.Error("/docs links to the admin API, which is off")
	}
}
