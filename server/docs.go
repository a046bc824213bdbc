package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/openapi"
)

// The browsable reference: the spec the server implements, as YAML (the
// hand-written file, verbatim) and as JSON, and a Redoc page that renders
// it. The Redoc bundle is vendored in docs/ and embedded, so the page works
// without any network (see docs/README.md).
const (
	pathSpecYAML = "/openapi.yaml"
	pathSpecJSON = "/openapi.json"
	pathDocs     = "/docs"
	pathRedocJS  = "/docs/redoc.standalone.js"
)

//go:embed docs/index.html docs/redoc.standalone.js
var docsFS embed.FS

// docsCSP lets the page load nothing but what this server serves. Redoc
// needs inline styles (styled-components) and runs its search index in a
// worker made from a blob: URL; images are inline SVG. It also shows a logo
// from its vendor's CDN, which this policy blocks without a request.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// specJSON is the published YAML as JSON, built once on first use. It is
// made from the YAML rather than from the spec in gen/, whose operationIds
// the generator has capitalised, so that both files say the same.
var specJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := openapi3.NewLoader().LoadFromData([]byte(openapi.MessagingYAML))
	if err != nil {
		return nil, err
	}
	return doc.MarshalJSON()
})

// registerDocs adds the GET routes of the reference to e. They are outside
// the paths of the spec, so request validation leaves them alone, and they
// get a Request-Id like every response.
func registerDocs(e *echo.Echo) {
	e.GET(pathSpecYAML, serveStatic("application/yaml; charset=utf-8", []byte(openapi.MessagingYAML), ""))
	e.GET(pathSpecJSON, func(c echo.Context) error {
		b, err := specJSON()
		if err != nil {
			return err
		}
		return serveStatic(echo.MIMEApplicationJSON, b, "")(c)
	})
	e.GET(pathDocs, serveStatic(echo.MIMETextHTMLCharsetUTF8, mustDocsFile("docs/index.html"), docsCSP))
	e.GET(pathRedocJS, serveStatic(echo.MIMEApplicationJavaScriptCharsetUTF8, mustDocsFile("docs/redoc.standalone.js"), ""))
}

// serveStatic answers with body and a strong ETag, so that browsers
// revalidate (304) instead of downloading the 1 MB bundle again.
func serveStatic(contentType string, body []byte, csp string) echo.HandlerFunc {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, contentType)
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		if csp != "" {
			h.Set(echo.HeaderContentSecurityPolicy, csp)
		}
		http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(body))
		return nil
	}
}

// mustDocsFile reads an embedded file; the names are constants checked by
// the tests, so a failure is a broken build.
func mustDocsFile(name string) []byte {
	b, err := docsFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
