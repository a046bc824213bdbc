package server_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/server"
)

// TestEveryOperationDeclaresTheErrorsItAnswers: every operation of both
// documents is made to answer each error status that the server can
// answer it with before its handler runs (415, 413, 400, 401, 404 without
// the admin API, and for the Connector API every status a fault rule may
// answer), each response validated against the spec by the test server
// (apitest): a status the operation does not declare fails.
func TestEveryOperationDeclaresTheErrorsItAnswers(t *testing.T) {
	const limit = 300 << 10 // over the admin operations' 256 KiB
	e := newEnv(t, server.Config{AdminToken: adminToken, BodyLimit: limit})
	without := newEnv(t, server.Config{BodyLimit: limit})
	th := e.addThread(demoClient, demoGross, "Statuses")
	valid := map[string]obj{
		pathThreadsGetAll:  demo("EnterpriseIds", []any{"3fa85f64-5717-4562-b3fc-2c963f66afa6"}, "Limitation", obj{"Count": 1}),
		pathThreadsAdd:     demo("OriginalSender", "a", "Subject", "b"),
		pathMessagesGetAll: demo("MessageThreadIds", []any{th["Id"]}, "Limitation", obj{"Count": 1}),
		pathMessagesAdd:    demo("Messages", []any{obj{"MessageThreadId": th["Id"], "Text": "a"}}),
	}
	auth := []string{"Authorization", "Bearer " + adminToken}
	for _, doc := range []func(bool) (*openapi3.T, error){spec.Load, spec.LoadAdmin} {
		d, err := doc(false)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for p := range spec.OperationRoutes(d) {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			admin := strings.HasPrefix(p, "/_admin/")
			body, h := valid[p], []string(nil)
			if admin {
				body, h = obj{}, auth
			} else if body == nil {
				t.Fatalf("no valid body for %s", p)
			}
			want := func(r response, status int, what string) {
				t.Helper()
				if r.status != status {
					t.Errorf("%s, %s: status %d, want %d: %s", p, what, r.status, status, r.raw)
				}
			}
			want(e.post(p, body, append([]string{"Content-Type", "text/plain"}, h...)...), 415, "a body of text/plain")
			want(e.post(p, `{"a":"`+strings.Repeat("x", limit)+`"}`, h...), 413, "a body over the limit")
			want(e.post(p, `{`, h...), 400, "a body that is not JSON")
			if admin {
				want(e.post(p, body), 401, "no admin token")
				want(without.post(p, body, h...), 404, "the admin API off")
				continue
			}
			wrong := obj{}
			for k, v := range body {
				wrong[k] = v
			}
			wrong["AccessToken"] = "0000"
			want(e.post(p, wrong), 401, "an AccessToken that does not exist")
			op := strings.TrimPrefix(p, "/api/connector/v1/")
			for _, status := range []int{400, 401, 403, 408, 429, 500, 503} {
				e.addRule(obj{"Operation": op, "Count": 1, "Status": status})
				want(e.post(p, body), status, "a fault rule")
			}
		}
	}
}
