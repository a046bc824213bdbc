package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
)

const adminToken = "test-admin-token"

func (e *env) admin(op string, body any) response {
	e.t.Helper()
	return e.post("/_admin/v1/"+op, body, "Authorization", "Bearer "+adminToken)
}

func (e *env) wantStatus(r response, status int) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
}

func TestAdminRoutesAbsentWithoutToken(t *testing.T) {
	e := newEnv(t, server.Config{})
	r := e.admin("reset", obj{})
	e.wantStatus(r, 404)
	if msg, _ := r.body["Message"].(string); !strings.Contains(msg, "the admin API and the console are off") || !strings.Contains(msg, "-admin-token") {
		t.Errorf("the 404 of an admin operation with the admin API off does not say so: %s", r.raw)
	}
	for _, p := range []string{"/console/", "/docs/admin", "/openapi/admin.yaml"} {
		res, err := http.Get(e.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 404 || !strings.Contains(string(body), "the admin API and the console are off") {
			t.Errorf("GET %s with the admin API off: %d %s", p, res.StatusCode, body)
		}
	}
}

// An unknown admin address points at the admin API's operations, not the
// Connector API's.
func TestAdminUnknownOperationPointsAtTheAdminAPI(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	r := e.admin("nope", obj{})
	e.wantStatus(r, 404)
	if msg, _ := r.body["Message"].(string); !strings.Contains(msg, "Admin operations are POST /_admin/v1/") {
		t.Errorf("unknown admin operation: %s", r.raw)
	}
}

func TestAdminNeedsTheTokenBeforeAnythingElse(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	for _, tc := range []struct {
		header []string
		want   string
	}{
		{nil, "needs the header Authorization: Bearer <admin token>"},
		{[]string{"Authorization", adminToken}, "needs the header Authorization: Bearer <admin token>"},
		{[]string{"Authorization", "Bearer wrong"}, "is not the admin token this server was started with"},
	} {
		// An invalid body too: without the token nothing is validated.
		r := e.post("/_admin/v1/messages/add", obj{"Text": ""}, tc.header...)
		e.wantStatus(r, 401)
		if msg, _ := r.body["Message"].(string); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want it to say %q", tc.header, msg, tc.want)
		}
	}
	e.wantStatus(e.admin("messages/add", obj{"Text": ""}), 400)
}

func TestAdminEnterpriseSide(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	th := e.addThread(demoClient, demoGross, "Late check-in")
	id := th["Id"].(string)
	e.wantStatus(e.addMessages(demoClient, demoGross, obj{"MessageThreadId": id, "Text": "Arriving at 23:00"}), 200)

	e.clock.Advance(time.Minute)
	r := e.admin("messages/add", obj{"MessageThreadId": id, "Text": "No problem, the desk is open."})
	e.wantStatus(r, 200)
	reply := r.body["Message"].(obj)
	if reply["Sender"].(obj)["Discriminator"] != "Enterprise" {
		t.Errorf("reply sender %v", reply["Sender"])
	}

	// The integration sees the reply and the moved UpdatedUtc.
	r = e.post(pathMessagesGetAll, demo("MessageThreadIds", []string{id}, "Limitation", obj{"Count": 10}))
	e.wantStatus(r, 200)
	msgs := r.body["Messages"].([]any)
	if len(msgs) != 2 || msgs[0].(obj)["Id"] != reply["Id"] || msgs[0].(obj)["Sender"].(obj)["Discriminator"] != "Enterprise" {
		t.Fatalf("messages %v", msgs)
	}
	getThread := func() obj {
		r := e.post(pathThreadsGetAll, demo("MessageThreadIds", []string{id}, "Limitation", obj{"Count": 1}))
		e.wantStatus(r, 200)
		return r.body["MessageThreads"].([]any)[0].(obj)
	}
	if got := getThread(); got["UpdatedUtc"] != reply["CreatedUtc"] || got["IsResolved"] != false {
		t.Errorf("thread after reply: %v", got)
	}

	e.wantStatus(e.admin("messageThreads/resolve", obj{"MessageThreadId": id, "IsResolved": true}), 200)
	if got := getThread(); got["IsResolved"] != true {
		t.Errorf("thread after resolve: %v", got)
	}
	r = e.admin("messageThreads/resolve", obj{"MessageThreadId": id, "IsResolved": false})
	e.wantStatus(r, 200)
	if r.body["MessageThread"].(obj)["IsResolved"] != false {
		t.Errorf("reopen: %s", r.raw)
	}

	// Lists of the enterprise (every integration), paginated.
	e.addThread(client2, client2Grs, "Parking")
	r = e.admin("messageThreads/getAll", obj{"EnterpriseId": server.DemoGrossPricingEnterprise, "Limitation": obj{"Count": 1}})
	e.wantStatus(r, 200)
	first := r.body["MessageThreads"].([]any)
	if len(first) != 1 || first[0].(obj)["Subject"] != "Parking" {
		t.Fatalf("first page %s", r.raw)
	}
	r = e.admin("messageThreads/getAll", obj{"EnterpriseId": server.DemoGrossPricingEnterprise, "Limitation": obj{"Count": 1, "Cursor": r.body["Cursor"]}})
	if got := r.body["MessageThreads"].([]any); len(got) != 1 || got[0].(obj)["Id"] != id {
		t.Fatalf("second page %s", r.raw)
	}
	r = e.admin("messages/getAll", obj{"MessageThreadId": id, "Limitation": obj{"Count": 1}})
	e.wantStatus(r, 200)
	if got := r.body["Messages"].([]any); len(got) != 1 || got[0].(obj)["Id"] != reply["Id"] {
		t.Fatalf("admin messages %s", r.raw)
	}

	unknown := "8d02142f-31cf-4115-90bf-ae5200c7a1ba"
	e.wantStatus(e.admin("messages/add", obj{"MessageThreadId": unknown, "Text": "x"}), 404)
	e.wantStatus(e.admin("messageThreads/resolve", obj{"MessageThreadId": unknown, "IsResolved": true}), 404)
	e.wantStatus(e.admin("messages/getAll", obj{"MessageThreadId": unknown, "Limitation": obj{"Count": 1}}), 404)

	e.wantStatus(e.admin("reset", obj{}), 200)
	r = e.admin("messageThreads/getAll", obj{"EnterpriseId": server.DemoGrossPricingEnterprise, "Limitation": obj{"Count": 10}})
	if got := r.body["MessageThreads"].([]any); len(got) != 0 || r.body["Cursor"] != nil {
		t.Errorf("after reset: %s", r.raw)
	}
}
