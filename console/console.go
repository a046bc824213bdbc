// Package console is the web console at /console: a live inbox of the
// conversations, seen from the enterprise's side, with a reply box, and the
// webhooks the server sends. It is server-rendered (html/template, assets
// embedded, nothing from another origin) with a little script for live
// updates (server-sent events) and local times.
//
// The console has no data access of its own: every page and every action
// calls the admin API's implementation (the generated
// admin.StrictServerInterface), so a reply typed in the page is exactly the
// admin API's reply: it moves the thread's UpdatedUtc and queues a
// MessageAdded webhook.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mewsref/mewsref/gen/admin"
)

// Prefix is the path of the console.
const Prefix = "/console"

// Changes is where the console learns that the data changed, whichever
// process wrote it (see server's changes).
type Changes interface {
	// Subscribe returns a channel that receives after changes, and the
	// function that ends the subscription.
	Subscribe() (<-chan struct{}, func())
	// Generation counts the changes seen by this process: the event ids
	// of the stream, so that a reconnecting stream knows whether it
	// missed one.
	Generation() uint64
}

// Config wires a console.
type Config struct {
	// API is the admin API's implementation; every page and action is a
	// call of its methods.
	API admin.StrictServerInterface
	// Check validates a request body against the admin API's document, as
	// the admin API validates its requests (path: the operation's path,
	// e.g. /_admin/v1/messages/add); the console checks what a person
	// typed with it before it calls API.
	Check func(ctx context.Context, path string, body any) error
	// Changes wakes the live views.
	Changes Changes
	// Token is the admin token: the password of the sign-in, and the key
	// of the session cookies (so that every replica started with the same
	// token accepts them).
	Token string
	// Problem turns an error of an API method into the status and the
	// message to show (the server's one mapping of errors).
	Problem func(ctx context.Context, err error) (status int, message string)
	// Stopping, when closed, ends the event streams, so that a shutdown
	// does not wait for open consoles. Nil: they end with their request.
	Stopping <-chan struct{}
	// Log receives what a person needs to act on.
	Log *slog.Logger
	// Now is the wall clock of the sessions. Nil: time.Now.
	Now func() time.Time
}

// Session is how long a sign-in lasts.
const Session = 12 * time.Hour

const (
	cookieName = "mewsref_console"
	csrfField  = "csrf"
)

// csp lets the pages load nothing but this server's own assets and connect
// only to itself; no inline script or style.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

type console struct {
	cfg  Config
	key  []byte // of the session cookies and CSRF tokens
	tmpl map[string]*template.Template
	mux  *http.ServeMux
}

// New returns the console's handler, for the paths under Prefix.
func New(cfg Config) (http.Handler, error) {
	if cfg.API == nil || cfg.Check == nil || cfg.Changes == nil || cfg.Token == "" || cfg.Problem == nil {
		return nil, errors.New("console: API, Check, Changes, Token and Problem are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mac := hmac.New(sha256.New, []byte(cfg.Token))
	mac.Write([]byte("mewsref console session key v1"))
	c := &console{cfg: cfg, key: mac.Sum(nil), mux: http.NewServeMux()}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix(Prefix+"/assets/", http.FileServerFS(assets))
	m := c.mux
	m.Handle("GET "+Prefix+"/assets/", files)
	m.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
	})
	m.HandleFunc("GET "+Prefix+"/signin", c.signinPage)
	m.HandleFunc("POST "+Prefix+"/signin", c.signin)
	m.HandleFunc("POST "+Prefix+"/signout", c.signout)
	m.HandleFunc("GET "+Prefix+"/{$}", c.authed(c.inbox))
	m.HandleFunc("GET "+Prefix+"/threads/{id}", c.authed(c.thread))
	m.HandleFunc("POST "+Prefix+"/threads/{id}/reply", c.authed(c.reply))
	m.HandleFunc("POST "+Prefix+"/threads/{id}/resolve", c.authed(c.resolve))
	m.HandleFunc("GET "+Prefix+"/webhooks", c.authed(c.webhooks))
	m.HandleFunc("POST "+Prefix+"/webhooks/urls", c.authed(c.setWebhookURLs))
	m.HandleFunc("POST "+Prefix+"/webhooks/redeliver", c.authed(c.redeliver))
	m.HandleFunc("GET "+Prefix+"/requests", c.authed(c.requests))
	m.HandleFunc("POST "+Prefix+"/requests/clear", c.authed(c.clearRequests))
	m.HandleFunc("GET "+Prefix+"/controls", c.authed(c.controls))
	m.HandleFunc("POST "+Prefix+"/faults/add", c.authed(c.addFault))
	m.HandleFunc("POST "+Prefix+"/faults/clear", c.authed(c.clearFaults))
	m.HandleFunc("POST "+Prefix+"/clock", c.authed(c.clock))
	m.HandleFunc("GET "+Prefix+"/events", c.authed(c.events))
	notFound := c.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		c.fail(w, r, nil, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	m.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		// This pattern, of every method, matches where another matches
		// with another method: ServeMux's own 405 never comes. It is
		// answered before sign-in, as the mux and the API's routes do.
		if allow := c.allowed(r); allow != "" {
			w.Header().Set("Allow", allow)
			c.fail(w, r, nil, http.StatusMethodNotAllowed, "The address "+r.URL.Path+" answers "+allow+", not "+r.Method+".")
			return
		}
		notFound(w, r)
	})
	return c, nil
}

// allowed is the methods that another of the console's patterns answers
// at r's path, as an Allow header lists them; "" if none does.
func (c *console) allowed(r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := c.mux.Handler(probe); pattern != "" && pattern != Prefix+"/" {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// session is a signed-in viewer.
type session struct {
	csrf   string // the CSRF token of the forms; empty with bearer auth
	bearer bool
	// generation is Changes.Generation before the page read its data: the
	// page's event stream starts from it, so that a change between the
	// page's rendering and the stream's start is not missed.
	generation uint64
}

// A session cookie is "<issued unix seconds, 8 bytes><16 random bytes>"
// and its HMAC under the key derived from the admin token, base64url: it
// needs no server-side state, so any replica with the same admin token
// accepts it, and changing the token signs everybody out.
func (c *console) sign(b []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	return m.Sum(nil)
}

func (c *console) newCookie() string {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b, uint64(c.cfg.Now().Unix()))
	rand.Read(b[8:])
	enc := base64.RawURLEncoding
	return enc.EncodeToString(b) + "." + enc.EncodeToString(c.sign(b))
}

// checkCookie returns whether v is a cookie this console issued less than
// Session ago.
func (c *console) checkCookie(v string) bool {
	enc := base64.RawURLEncoding
	p, s, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	b, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil || len(b) != 24 || !hmac.Equal(sig, c.sign(b)) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	age := c.cfg.Now().Sub(issued)
	return age >= -time.Minute && age < Session
}

// csrfToken is the token of the forms of the session whose cookie is v.
func (c *console) csrfToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(c.sign([]byte("csrf\x00" + cookie)))
}

// checkToken compares a presented admin token in constant time (of its
// length too: both sides are hashed).
func (c *console) checkToken(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(c.cfg.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// sameOrigin rejects requests that a browser says come from another site.
// Browsers send Origin on every POST and Sec-Fetch-Site on every request;
// scripts (curl) send neither and need the token anyway.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// authed serves h to a signed-in viewer: a valid session cookie, or the
// admin token as "Authorization: Bearer" (scripts and headless browsers).
// Everybody else gets the sign-in page, or a 401 for the event stream and
// actions. Every POST of a cookie session must carry its CSRF token and
// come from this origin.
func (c *console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if !c.checkToken(tok) {
				c.fail(w, r, nil, http.StatusUnauthorized, "Wrong admin token in the Authorization header.")
				return
			}
			s = &session{bearer: true}
		} else if ck, err := r.Cookie(cookieName); err == nil && c.checkCookie(ck.Value) {
			s = &session{csrf: c.csrfToken(ck.Value)}
		}
		if s == nil {
			if r.Method == http.MethodGet && r.URL.Path != Prefix+"/events" {
				http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "Sign in first.")
			return
		}
		s.generation = c.cfg.Changes.Generation()
		if r.Method == http.MethodPost {
			if !sameOrigin(r) {
				c.fail(w, r, s, http.StatusForbidden, "The request came from another site.")
				return
			}
			if !s.bearer && subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(s.csrf)) != 1 {
				c.fail(w, r, s, http.StatusForbidden, "The form has expired or is not this console's (CSRF check); reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	}
}

func (c *console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "signin", nil, page{Title: "Sign in"})
}

// signin checks the admin token of the form (field "token") and sets the
// session cookie. Scripts can do the same:
//
//	curl -c cookies -d token=$ADMIN_TOKEN http://127.0.0.1:8080/console/signin
func (c *console) signin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.fail(w, r, nil, http.StatusForbidden, "The request came from another site.")
		return
	}
	if !c.checkToken(r.PostFormValue("token")) {
		c.cfg.Log.Warn("console: sign-in with a wrong admin token", "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "signin", nil, page{Title: "Sign in", Error: "That is not the admin token this server was started with (-admin-token)."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: c.newCookie(), Path: Prefix, MaxAge: int(Session / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// signout clears the cookie. A cookie is valid until it expires, wherever
// it is kept: change the admin token to end every session at once.
func (c *console) signout(w http.ResponseWriter, r *http.Request) {
	c.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
	})(w, r)
}
