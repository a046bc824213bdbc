package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
)

func TestAdminIntegrationsGetAllListsEnterprisesNotTokens(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	r := e.admin("integrations/getAll", obj{})
	e.wantStatus(r, 200)
	list := r.body["Integrations"].([]any)
	if len(list) != 4 {
		t.Fatalf("%d integrations, want the 4 demo ones: %s", len(list), r.raw)
	}
	first := list[0].(obj)
	if first["Name"] != "Are you ready to integrate with Mews?" {
		t.Errorf("first integration %v", first)
	}
	es := first["EnterpriseIds"].([]any)
	if len(es) != 2 || es[0] != server.DemoGrossPricingEnterprise.String() {
		t.Errorf("enterprises %v", es)
	}
	for _, tok := range []string{demoClient, demoGross} {
		if strings.Contains(string(r.raw), tok) {
			t.Errorf("the answer shows token %s", server.MaskToken(tok))
		}
	}
}

func TestAdminMessageThreadsSearch(t *testing.T) {
	e := newEnv(t, server.Config{AdminToken: adminToken})
	old := e.addThread(demoClient, demoGross, "Late check-in")["Id"].(string)
	e.clock.Advance(time.Minute)
	other := e.addThread(client2, client2Grs, "Parking")["Id"].(string)
	e.clock.Advance(time.Minute)
	e.wantStatus(e.addMessages(demoClient, demoGross, obj{"MessageThreadId": old, "Text": "Is BREAKFAST included?"}), 200)
	search := func(kv ...any) response {
		body := obj{"EnterpriseId": server.DemoGrossPricingEnterprise, "Limitation": obj{"Count": 10}}
		for i := 0; i < len(kv); i += 2 {
			body[kv[i].(string)] = kv[i+1]
		}
		r := e.admin("messageThreads/search", body)
		e.wantStatus(r, 200)
		return r
	}
	ids := func(r response) []any {
		var out []any
		for _, s := range r.body["MessageThreads"].([]any) {
			out = append(out, s.(obj)["MessageThread"].(obj)["Id"])
		}
		return out
	}

	r := search()
	if got := ids(r); len(got) != 2 || got[0] != old || got[1] != other {
		t.Fatalf("latest activity first: %v", got)
	}
	if last := r.body["MessageThreads"].([]any)[0].(obj)["LastMessage"].(obj); last["Text"] != "Is BREAKFAST included?" {
		t.Errorf("LastMessage %v", last)
	}
	if _, ok := r.body["MessageThreads"].([]any)[1].(obj)["LastMessage"]; ok {
		t.Errorf("a thread without messages has a LastMessage: %s", r.raw)
	}
	if got := ids(search("Text", "breakfast")); len(got) != 1 || got[0] != old {
		t.Errorf("Text breakfast: %v", got)
	}
	if got := ids(search("Text", nil, "IsResolved", nil, "IntegrationId", nil)); len(got) != 2 {
		t.Errorf("null filters: %v", got)
	}
	e.wantStatus(e.admin("messageThreads/resolve", obj{"MessageThreadId": other, "IsResolved": true}), 200)
	if got := ids(search("IsResolved", true)); len(got) != 1 || got[0] != other {
		t.Errorf("resolved: %v", got)
	}
	r = search("Limitation", obj{"Count": 1})
	r = search("Limitation", obj{"Count": 1, "Cursor": r.body["Cursor"]})
	if got := ids(r); len(got) != 1 || got[0] != other {
		t.Errorf("second page: %v", got)
	}
	bad := e.admin("messageThreads/search", obj{"EnterpriseId": server.DemoGrossPricingEnterprise, "Limitation": obj{"Count": 1, "Cursor": server.DemoNetPricingEnterprise}})
	e.wantStatus(bad, 400)
}
