package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
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
//
// With the admin API enabled, its document is published too, at
// /openapi/admin.yaml and /openapi/admin.json, and rendered at /docs/admin;
// both pages then link to each other.
const (
	pathSpecYAML      = "/openapi.yaml"
	pathSpecJSON      = "/openapi.json"
	pathDocs          = "/docs"
	pathRedocJS       = "/docs/redoc.standalone.js"
	pathAdminSpecYAML = "/openapi/admin.yaml"
	pathAdminSpecJSON = "/openapi/admin.json"
	pathAdminDocs     = "/docs/admin"
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
var (
	specJSON      = sync.OnceValues(func() ([]byte, error) { return yamlToJSON(openapi.MessagingYAML) })
	adminSpecJSON = sync.OnceValues(func() ([]byte, error) { return yamlToJSON(openapi.AdminYAML) })
)

func yamlToJSON(text string) ([]byte, error) {
	doc, err := openapi3.NewLoader().LoadFromData([]byte(text))
	if err != nil {
		return nil, err
	}
	return doc.MarshalJSON()
}

// The two pages are docs/index.html, which renders the messaging API, with
// a navigation bar between the APIs when the admin API is on. The
// replacements are constants: nothing from a request reaches the pages.
const (
	navMarker    = "<!--nav-->"
	navStyle     = `<style>nav { font: 14px sans-serif; padding: 8px 16px; border-bottom: 1px solid #ddd; } nav a, nav b { margin-right: 16px; }</style>`
	navMessaging = navStyle + `<nav><b>Messaging API</b><a href="docs/admin">Admin API (enterprise side)</a></nav>`
	navAdmin     = navStyle + `<nav><a href="../docs">Messaging API</a><b>Admin API (enterprise side)</b></nav>`
)

func docsPages(adminOn bool) (messaging, adminPage []byte) {
	page := mustDocsFile("docs/index.html")
	if !adminOn {
		return bytes.Replace(page, []byte(navMarker), nil, 1), nil
	}
	messaging = bytes.Replace(page, []byte(navMarker), []byte(navMessaging), 1)
	adminPage = []byte(strings.NewReplacer(
		navMarker, navAdmin,
		`spec-url="openapi.yaml"`, `spec-url="../openapi/admin.yaml"`,
		`src="docs/redoc.standalone.js"`, `src="redoc.standalone.js"`,
		"Mews Connector API — messaging", "mewsref admin API — the enterprise side",
	).Replace(string(page)))
	return messaging, adminPage
}

// registerDocs adds the GET routes of the reference to e. They are outside
// the paths of the spec, so request validation leaves them alone, and they
// get a Request-Id like every response.
func registerDocs(e *echo.Echo, adminOn bool) {
	messagingPage, adminPage := docsPages(adminOn)
	e.GET(pathSpecYAML, serveStatic("application/yaml; charset=utf-8", []byte(openapi.MessagingYAML), ""))
	e.GET(pathSpecJSON, serveJSON(specJSON))
	e.GET(pathDocs, serveStatic(echo.MIMETextHTMLCharsetUTF8, messagingPage, docsCSP))
	e.GET(pathRedocJS, serveStatic(echo.MIMEApplicationJavaScriptCharsetUTF8, mustDocsFile("docs/redoc.standalone.js"), ""))
	if adminOn {
		e.GET(pathAdminSpecYAML, serveStatic("application/yaml; charset=utf-8", []byte(openapi.AdminYAML), ""))
		e.GET(pathAdminSpecJSON, serveJSON(adminSpecJSON))
		e.GET(pathAdminDocs, serveStatic(echo.MIMETextHTMLCharsetUTF8, adminPage, docsCSP))
	}
}

func serveJSON(doc func() ([]byte, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := doc()
		if err != nil {
			return err
		}
		return serveStatic(echo.MIMEApplicationJSON, b, "")(c)
	}
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
