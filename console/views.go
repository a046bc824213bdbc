package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

// Page sizes of the views; the API's pages, newest first.
const (
	threadsPerPage    = 25
	messagesPerPage   = 100
	deliveriesPerPage = 50
)

// page is what every template gets.
type page struct {
	Title string
	Nav   string // the active item of the navigation
	CSRF  string // the CSRF token of the forms
	Error string
	Data  any
	// Generation is where the page's event stream starts (see session).
	Generation uint64
}

var funcs = template.FuncMap{
	// utc is the text of a time before the script shows it in the
	// viewer's time zone; it stays as the tooltip.
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"short": func(s string) string {
		r := []rune(s)
		if len(r) > 140 {
			return string(r[:140]) + "…"
		}
		return s
	},
	"shortID": func(id uuid.UUID) string { return id.String()[:8] },
}

func (c *console) parseTemplates() error {
	c.tmpl = make(map[string]*template.Template)
	for _, name := range []string{"signin", "error", "inbox", "thread", "webhooks", "requests", "controls"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("console: templates: %w", err)
		}
		c.tmpl[name] = t
	}
	return nil
}

func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, p page) {
	if s != nil {
		p.CSRF, p.Generation = s.csrf, s.generation
	}
	var b strings.Builder
	if err := c.tmpl[name].ExecuteTemplate(&b, "layout", p); err != nil {
		c.cfg.Log.Error("console: rendering a page", "page", name, "error", err.Error())
		http.Error(w, "The console could not render this page; see the server's log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail shows an error page; the event stream and scripts get plain text.
func (c *console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	if r.URL.Path == Prefix+"/events" {
		http.Error(w, msg, status)
		return
	}
	c.render(w, r, status, "error", s, page{Title: http.StatusText(status), Error: msg})
}

// call validates body as the request of the admin operation at path, then
// runs do (the operation's method): one validation for the admin API and
// the console. It reports whether both went through; else the error is shown.
func (c *console) call(w http.ResponseWriter, r *http.Request, s *session, path string, body any, do func() error) bool {
	err := c.cfg.Check(r.Context(), path, body)
	if err == nil {
		err = do()
	}
	if err != nil {
		c.problem(w, r, s, err)
		return false
	}
	return true
}

// problem shows the error of an API method as the API would state it.
func (c *console) problem(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := c.cfg.Problem(r.Context(), err)
	c.fail(w, r, s, status, msg)
}

// integrations returns the configured integrations, and their names by id.
func (c *console) integrations(r *http.Request) ([]admin.AdminIntegration, map[uuid.UUID]string, error) {
	res, err := c.cfg.API.AdminIntegrationsGetAll(r.Context(), admin.AdminIntegrationsGetAllRequestObject{Body: &admin.AdminEmpty{}})
	if err != nil {
		return nil, nil, err
	}
	list := res.(admin.AdminIntegrationsGetAll200JSONResponse).Body.Integrations
	names := make(map[uuid.UUID]string, len(list))
	for _, in := range list {
		names[in.IntegrationId] = in.Name
	}
	return list, names, nil
}

type enterpriseLink struct {
	ID     uuid.UUID
	URL    string
	Active bool
}

type integrationNav struct {
	ID          uuid.UUID
	Name        string
	Enterprises []enterpriseLink
}

type threadRow struct {
	ID          uuid.UUID
	Sender      string
	Subject     string
	Integration string
	Updated     time.Time
	Resolved    bool
	Last        *messageView
}

type messageView struct {
	ID         uuid.UUID
	Text       string
	Enterprise bool // the hotel's side; else the guest's (the application's)
	Created    time.Time
}

type inboxData struct {
	All          []enterpriseLink // each enterprise, every integration
	Integrations []integrationNav
	Enterprise   uuid.UUID
	Integration  string // the integration filter's name; empty: all
	Query        string
	Resolved     string // "", "true" or "false"
	Threads      []threadRow
	Hidden       url.Values // the selection, for the search form
	Older        string     // URL of the next page; empty on the last
	First        string     // URL of the first page, when not on it
}

func messageOf(m admin.Message) *messageView {
	return &messageView{ID: m.Id, Text: m.Text, Enterprise: string(m.Sender.Discriminator) == "Enterprise", Created: m.CreatedUtc}
}

// inbox lists the threads of one enterprise (query e; default the first
// enterprise of the first integration), of every integration or of one (i),
// latest activity first, with search (q), resolved filter (resolved) and
// pages (cursor).
func (c *console) inbox(w http.ResponseWriter, r *http.Request, s *session) {
	list, names, err := c.integrations(r)
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	q := r.URL.Query()
	d := inboxData{Query: q.Get("q"), Resolved: q.Get("resolved")}
	var enterprise uuid.UUID
	if e := q.Get("e"); e != "" {
		if enterprise, err = uuid.Parse(e); err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The enterprise in the address (e) is not an identifier.")
			return
		}
	} else {
		for _, in := range list {
			if len(in.EnterpriseIds) > 0 {
				enterprise = in.EnterpriseIds[0]
				break
			}
		}
	}
	d.Enterprise = enterprise
	body := admin.AdminThreadSearchParameters{EnterpriseId: enterprise, Limitation: admin.Limitation{Count: threadsPerPage}}
	if i := q.Get("i"); i != "" {
		id, err := uuid.Parse(i)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The integration in the address (i) is not an identifier.")
			return
		}
		body.IntegrationId, d.Integration = &id, names[id]
	}
	if d.Query != "" {
		body.Text = &d.Query
	}
	switch d.Resolved {
	case "true", "false":
		v := d.Resolved == "true"
		body.IsResolved = &v
	default:
		d.Resolved = ""
	}
	if cur := q.Get("cursor"); cur != "" {
		id, err := uuid.Parse(cur)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The cursor in the address is not an identifier.")
			return
		}
		body.Limitation.Cursor = &id
	}
	for _, in := range list {
		for _, e := range in.EnterpriseIds {
			if !slices.ContainsFunc(d.All, func(l enterpriseLink) bool { return l.ID == e }) {
				d.All = append(d.All, enterpriseLink{ID: e, URL: Prefix + "/?" + url.Values{"e": {e.String()}}.Encode(),
					Active: e == enterprise && body.IntegrationId == nil})
			}
		}
	}
	for _, in := range list {
		nav := integrationNav{ID: in.IntegrationId, Name: in.Name}
		for _, e := range in.EnterpriseIds {
			nav.Enterprises = append(nav.Enterprises, enterpriseLink{ID: e,
				URL:    Prefix + "/?" + url.Values{"e": {e.String()}, "i": {in.IntegrationId.String()}}.Encode(),
				Active: e == enterprise && body.IntegrationId != nil && *body.IntegrationId == in.IntegrationId})
		}
		d.Integrations = append(d.Integrations, nav)
	}
	if enterprise != uuid.Nil {
		var res admin.AdminMessageThreadsSearchResponseObject
		if !c.call(w, r, s, "/_admin/v1/messageThreads/search", body, func() (err error) {
			res, err = c.cfg.API.AdminMessageThreadsSearch(r.Context(), admin.AdminMessageThreadsSearchRequestObject{Body: &body})
			return err
		}) {
			return
		}
		pg := res.(admin.AdminMessageThreadsSearch200JSONResponse).Body
		for _, t := range pg.MessageThreads {
			th := t.MessageThread
			row := threadRow{ID: th.Id, Sender: th.OriginalSender, Subject: th.Subject, Integration: names[th.IntegrationId],
				Updated: th.UpdatedUtc, Resolved: th.IsResolved}
			if t.LastMessage != nil {
				row.Last = messageOf(*t.LastMessage)
			}
			d.Threads = append(d.Threads, row)
		}
		sel := url.Values{"e": {enterprise.String()}}
		if body.IntegrationId != nil {
			sel.Set("i", body.IntegrationId.String())
		}
		d.Hidden = sel
		for k, v := range map[string]string{"q": d.Query, "resolved": d.Resolved} {
			if v != "" {
				sel.Set(k, v)
			}
		}
		if len(pg.MessageThreads) == threadsPerPage && pg.Cursor != nil {
			older := url.Values{"cursor": {pg.Cursor.String()}}
			for k, v := range sel {
				older[k] = v
			}
			d.Older = Prefix + "/?" + older.Encode()
		}
		if body.Limitation.Cursor != nil {
			d.First = Prefix + "/?" + sel.Encode()
		}
	}
	c.render(w, r, http.StatusOK, "inbox", s, page{Title: "Inbox", Nav: "inbox", Data: d})
}

type threadData struct {
	Thread      admin.MessageThread
	Integration string
	InboxURL    string
	Messages    []messageView // oldest first, as a chat reads
	Older       string        // URL of older messages; empty if none
	Newest      string        // URL of the newest messages, when not on them
}

func parseID(r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	return id, err == nil
}

// thread shows a conversation: the newest page of messages (or the one
// before cursor), as a chat.
func (c *console) thread(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := parseID(r)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "There is no thread "+r.PathValue("id")+".")
		return
	}
	res, err := c.cfg.API.AdminMessageThreadsGet(r.Context(), admin.AdminMessageThreadsGetRequestObject{Body: &admin.AdminThreadParameters{MessageThreadId: id}})
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	th := res.(admin.AdminMessageThreadsGet200JSONResponse).Body.MessageThread
	_, names, err := c.integrations(r)
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	lim := admin.Limitation{Count: messagesPerPage}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		cid, err := uuid.Parse(cur)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The cursor in the address is not an identifier.")
			return
		}
		lim.Cursor = &cid
	}
	mres, err := c.cfg.API.AdminMessagesGetAll(r.Context(), admin.AdminMessagesGetAllRequestObject{Body: &admin.AdminMessagesParameters{MessageThreadId: id, Limitation: lim}})
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	pg := mres.(admin.AdminMessagesGetAll200JSONResponse).Body
	d := threadData{Thread: th, Integration: names[th.IntegrationId],
		InboxURL: Prefix + "/?" + url.Values{"e": {th.EnterpriseId.String()}}.Encode()}
	for _, m := range slices.Backward(pg.Messages) {
		d.Messages = append(d.Messages, *messageOf(m))
	}
	self := Prefix + "/threads/" + id.String()
	if len(pg.Messages) == messagesPerPage && pg.Cursor != nil {
		d.Older = self + "?" + url.Values{"cursor": {pg.Cursor.String()}}.Encode()
	}
	if lim.Cursor != nil {
		d.Newest = self
	}
	c.render(w, r, http.StatusOK, "thread", s, page{Title: th.Subject, Nav: "inbox", Data: d})
}

// reply posts the text of the reply box as the enterprise: the admin API's
// messages/add.
func (c *console) reply(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := parseID(r)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "There is no thread "+r.PathValue("id")+".")
		return
	}
	body := admin.AdminMessageAddParameters{MessageThreadId: id, Text: r.PostFormValue("text")}
	if !c.call(w, r, s, "/_admin/v1/messages/add", body, func() error {
		_, err := c.cfg.API.AdminMessagesAdd(r.Context(), admin.AdminMessagesAddRequestObject{Body: &body})
		return err
	}) {
		return
	}
	http.Redirect(w, r, Prefix+"/threads/"+id.String(), http.StatusSeeOther)
}

// resolve resolves (resolved=true) or reopens (resolved=false) a thread:
// the admin API's messageThreads/resolve.
func (c *console) resolve(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := parseID(r)
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "There is no thread "+r.PathValue("id")+".")
		return
	}
	v := r.PostFormValue("resolved")
	if v != "true" && v != "false" {
		c.fail(w, r, s, http.StatusBadRequest, "resolved must be true or false.")
		return
	}
	body := admin.AdminResolveParameters{MessageThreadId: id, IsResolved: v == "true"}
	if !c.call(w, r, s, "/_admin/v1/messageThreads/resolve", body, func() error {
		_, err := c.cfg.API.AdminMessageThreadsResolve(r.Context(), admin.AdminMessageThreadsResolveRequestObject{Body: &body})
		return err
	}) {
		return
	}
	http.Redirect(w, r, Prefix+"/threads/"+id.String(), http.StatusSeeOther)
}

type deliveryView struct {
	admin.AdminDelivery
	Body string // the payload, indented
}

type webhookIntegration struct {
	ID         uuid.UUID
	Name       string
	URLs       []string
	Deliveries []deliveryView
}

// webhooks shows, per integration, the webhook URLs and the newest
// deliveries.
func (c *console) webhooks(w http.ResponseWriter, r *http.Request, s *session) {
	res, err := c.cfg.API.AdminWebhooksGetAll(r.Context(), admin.AdminWebhooksGetAllRequestObject{Body: &admin.AdminEmpty{}})
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	var d []webhookIntegration
	for _, h := range res.(admin.AdminWebhooksGetAll200JSONResponse).Body.Webhooks {
		in := webhookIntegration{ID: h.IntegrationId, URLs: h.Urls}
		if h.Name != nil {
			in.Name = *h.Name
		}
		id := h.IntegrationId
		dres, err := c.cfg.API.AdminWebhookDeliveriesGetAll(r.Context(), admin.AdminWebhookDeliveriesGetAllRequestObject{Body: &admin.AdminDeliveriesParameters{Count: deliveriesPerPage, IntegrationId: &id}})
		if err != nil {
			c.problem(w, r, s, err)
			return
		}
		for _, del := range dres.(admin.AdminWebhookDeliveriesGetAll200JSONResponse).Body.Deliveries {
			b, err := json.MarshalIndent(del.Payload, "", "  ")
			if err != nil {
				c.problem(w, r, s, err)
				return
			}
			in.Deliveries = append(in.Deliveries, deliveryView{AdminDelivery: del, Body: string(b)})
		}
		d = append(d, in)
	}
	c.render(w, r, http.StatusOK, "webhooks", s, page{Title: "Webhooks", Nav: "webhooks", Data: d})
}

// setWebhookURLs replaces the URLs of an integration (one per line): the
// admin API's webhooks/set.
func (c *console) setWebhookURLs(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := uuid.Parse(r.PostFormValue("integration"))
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "The integration of the form is not an identifier.")
		return
	}
	urls := []string{}
	for _, line := range strings.Split(r.PostFormValue("urls"), "\n") {
		if u := strings.TrimSpace(line); u != "" {
			urls = append(urls, u)
		}
	}
	body := admin.AdminWebhooks{IntegrationId: id, Urls: urls}
	if !c.call(w, r, s, "/_admin/v1/webhooks/set", body, func() error {
		_, err := c.cfg.API.AdminWebhooksSet(r.Context(), admin.AdminWebhooksSetRequestObject{Body: &body})
		return err
	}) {
		return
	}
	http.Redirect(w, r, Prefix+"/webhooks#integration-"+id.String(), http.StatusSeeOther)
}

// redeliver queues a delivery's payload again, to its URL: the admin API's
// webhookDeliveries/redeliver.
func (c *console) redeliver(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PostFormValue("delivery"), 10, 64)
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "The delivery of the form is not a number.")
		return
	}
	body := admin.AdminRedeliverParameters{Id: id}
	var res admin.AdminWebhookDeliveriesRedeliverResponseObject
	if !c.call(w, r, s, "/_admin/v1/webhookDeliveries/redeliver", body, func() (err error) {
		res, err = c.cfg.API.AdminWebhookDeliveriesRedeliver(r.Context(), admin.AdminWebhookDeliveriesRedeliverRequestObject{Body: &body})
		return err
	}) {
		return
	}
	d := res.(admin.AdminWebhookDeliveriesRedeliver200JSONResponse).Body.Delivery
	http.Redirect(w, r, Prefix+"/webhooks#integration-"+d.IntegrationId.String(), http.StatusSeeOther)
}
