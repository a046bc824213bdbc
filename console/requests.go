package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

// The requests view: the request journal (the admin API's requests/getAll),
// newest first, filtered by operation, status and integration, with the
// bodies pretty-printed. The journal masks every token before it stores an
// entry, so the page shows them masked too.

const requestsPerPage = 50

// operations are the choices of the operation filter.
var operations = []string{"messageThreads/getAll", "messageThreads/add", "messages/getAll", "messages/add"}

type requestView struct {
	admin.AdminRequest
	Integration  string
	Request      string // the body, indented when it is JSON
	Response     string
	StatusClass  string
	DurationText string
}

type requestsData struct {
	Operations   []string
	Integrations []admin.AdminIntegration
	Operation    string
	Status       string
	Integration  string
	Requests     []requestView
	Older        string
	First        string
}

// pretty indents a JSON body; anything else is shown as it is.
func pretty(s *string) string {
	if s == nil {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, []byte(*s), "", "  ") == nil {
		return b.String()
	}
	return *s
}

func (c *console) requests(w http.ResponseWriter, r *http.Request, s *session) {
	list, names, err := c.integrations(r)
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	q := r.URL.Query()
	d := requestsData{Operations: operations, Integrations: list, Operation: q.Get("op"), Status: q.Get("status"), Integration: q.Get("i")}
	body := admin.AdminRequestsParameters{Limitation: admin.Limitation{Count: requestsPerPage}}
	if d.Operation != "" {
		body.Operations = &[]string{d.Operation}
	}
	if d.Status != "" {
		n, err := strconv.ParseInt(d.Status, 10, 32)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The status filter must be a number, an HTTP status.")
			return
		}
		st := []int32{int32(n)}
		body.Statuses = &st
	}
	if d.Integration != "" {
		id, err := uuid.Parse(d.Integration)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The integration in the address (i) is not an identifier.")
			return
		}
		body.IntegrationIds = &[]uuid.UUID{id}
	}
	if cur := q.Get("cursor"); cur != "" {
		id, err := uuid.Parse(cur)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The cursor in the address is not an identifier.")
			return
		}
		body.Limitation.Cursor = &id
	}
	var res admin.AdminRequestsGetAllResponseObject
	if !c.call(w, r, s, "/_admin/v1/requests/getAll", body, func() (err error) {
		res, err = c.cfg.API.AdminRequestsGetAll(r.Context(), admin.AdminRequestsGetAllRequestObject{Body: &body})
		return err
	}) {
		return
	}
	pg := res.(admin.AdminRequestsGetAll200JSONResponse).Body
	for _, e := range pg.Requests {
		v := requestView{AdminRequest: e, Request: pretty(e.RequestBody), Response: pretty(e.ResponseBody),
			StatusClass:  "status-" + strconv.Itoa(int(e.Status)/100) + "xx",
			DurationText: (time.Duration(e.DurationMs * float64(time.Millisecond))).Round(10 * time.Microsecond).String()}
		if e.IntegrationId != nil {
			v.Integration = names[*e.IntegrationId]
		}
		d.Requests = append(d.Requests, v)
	}
	sel := url.Values{}
	for k, v := range map[string]string{"op": d.Operation, "status": d.Status, "i": d.Integration} {
		if v != "" {
			sel.Set(k, v)
		}
	}
	if len(pg.Requests) == requestsPerPage && pg.Cursor != nil {
		older := url.Values{"cursor": {pg.Cursor.String()}}
		for k, v := range sel {
			older[k] = v
		}
		d.Older = Prefix + "/requests?" + older.Encode()
	}
	if body.Limitation.Cursor != nil {
		d.First = Prefix + "/requests?" + sel.Encode()
	}
	c.render(w, r, http.StatusOK, "requests", s, page{Title: "Requests", Nav: "requests", Data: d})
}

// clearRequests empties the journal: the admin API's requests/clear.
func (c *console) clearRequests(w http.ResponseWriter, r *http.Request, s *session) {
	body := admin.AdminEmpty{}
	if !c.call(w, r, s, "/_admin/v1/requests/clear", body, func() error {
		_, err := c.cfg.API.AdminRequestsClear(r.Context(), admin.AdminRequestsClearRequestObject{Body: &body})
		return err
	}) {
		return
	}
	http.Redirect(w, r, Prefix+"/requests", http.StatusSeeOther)
}
