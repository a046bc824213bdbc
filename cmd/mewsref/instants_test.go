package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/pgtest"
)

// "Note the time, write, read since", as a client generated from the
// official OpenAPI document does it, on the real binary and both engines:
// the client's own clock, with its fraction, as the start of an interval
// holds what it wrote next, for the three interval filters and both write
// operations, in the forms clients write (Python's isoformat with +00:00,
// JavaScript's milliseconds with Z, lowercase t and z, other offsets).
func TestBinaryNoteTheTimeWriteReadSince(t *testing.T) {
	bin := binary(t)
	t.Run("SQLite", func(t *testing.T) {
		p := start(t, bin, "-db", filepath.Join(t.TempDir(), "data.db"))
		noteWriteReadSince(t, p.addr)
		p.stop(t)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		p := start(t, bin, "-db", pgtest.DSN(t))
		noteWriteReadSince(t, p.addr)
		p.stop(t)
	})
}

// The forms of a client's instant t in a request, each a different spelling.
var clientForms = []struct {
	name   string
	format func(t time.Time) string
}{
	{"Python isoformat", func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00" }},
	{"nanoseconds Z", func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }},
	{"lowercase t and z", func(t time.Time) string { return strings.ToLower(t.UTC().Format("2006-01-02T15:04:05.000000Z")) }},
	{"offset -05:30", func(t time.Time) string {
		return t.In(time.FixedZone("", -(5*3600 + 1800))).Format("2006-01-02T15:04:05.000000-07:00")
	}},
	{"offset -00:00, one digit", func(t time.Time) string {
		return t.UTC().Truncate(100*time.Millisecond).Format("2006-01-02T15:04:05.0") + "-00:00"
	}},
}

func noteWriteReadSince(t *testing.T, addr string) {
	for _, form := range clientForms {
		t.Run(form.name, func(t *testing.T) {
			interval := func(since time.Time) string {
				return `{"StartUtc":"` + form.format(since) + `","EndUtc":"` + form.format(since.Add(time.Hour)) + `"}`
			}
			t0 := time.Now()
			status, body := post(t, addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"Guest","Subject":"`+form.name+`"}`)
			if status != 200 {
				t.Fatalf("messageThreads/add: %d %v", status, body)
			}
			thread := body["MessageThreads"].([]any)[0].(map[string]any)
			id := thread["Id"].(string)
			if created := thread["CreatedUtc"].(string); !strings.HasSuffix(created, "Z") || len(created) != len("2006-01-02T15:04:05Z") {
				t.Errorf("CreatedUtc %q is not in whole seconds with Z", created)
			}
			wantThread(t, addr, `"CreatedUtc":`+interval(t0), id, true)

			t1 := time.Now()
			status, body = post(t, addr, "messages/add", `{`+demoCreds+`,"Messages":[{"MessageThreadId":"`+id+`","Text":"Hello"}]}`)
			if status != 200 {
				t.Fatalf("messages/add: %d %v", status, body)
			}
			msg := body["Messages"].([]any)[0].(map[string]any)["Message"].(map[string]any)["Id"].(string)
			wantThread(t, addr, `"UpdatedUtc":`+interval(t1), id, true)
			status, body = post(t, addr, "messages/getAll",
				`{`+demoCreds+`,"MessageThreadIds":["`+id+`"],"CreatedUtc":`+interval(t1)+`,"Limitation":{"Count":10}}`)
			if status != 200 {
				t.Fatalf("messages/getAll: %d %v", status, body)
			}
			if ms := body["Messages"].([]any); len(ms) != 1 || ms[0].(map[string]any)["Id"] != msg {
				t.Errorf("messages created since %s: %v, want only %s", form.format(t1), ms, msg)
			}

			// What was written before is not since: the thread was created
			// before t1 (to the microsecond of the forms that have them).
			if form.name != "offset -00:00, one digit" {
				wantThread(t, addr, `"CreatedUtc":`+interval(t1), id, false)
			}
		})
	}
	t.Run("whole-second bound copied from a response", func(t *testing.T) {
		t1 := time.Now()
		status, body := post(t, addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"Guest","Subject":"copied"}`)
		if status != 200 {
			t.Fatalf("messageThreads/add: %d %v", status, body)
		}
		thread := body["MessageThreads"].([]any)[0].(map[string]any)
		created, id := thread["CreatedUtc"].(string), thread["Id"].(string)
		// The response shows the second; the instant is somewhere in it,
		// and an end in whole seconds covers the whole second.
		wantThread(t, addr, `"CreatedUtc":{"StartUtc":"`+created+`","EndUtc":"`+created+`"}`, id, true)
		wantThread(t, addr, `"CreatedUtc":{"StartUtc":"`+clientForms[0].format(t1)+`","EndUtc":"`+created+`"}`, id, true)
	})
}

// wantThread lists the threads of filter (a member of the request) and
// checks whether thread id is among them.
func wantThread(t *testing.T, addr, filter, id string, want bool) {
	t.Helper()
	status, body := post(t, addr, "messageThreads/getAll", `{`+demoCreds+`,`+filter+`,"Limitation":{"Count":1000}}`)
	if status != 200 {
		t.Fatalf("messageThreads/getAll %s: %d %v", filter, status, body)
	}
	found := false
	for _, th := range body["MessageThreads"].([]any) {
		found = found || th.(map[string]any)["Id"] == id
	}
	if found != want {
		t.Errorf("thread %s in %s: %t, want %t (%s)", id, filter, found, want, fmt.Sprint(body["MessageThreads"]))
	}
}
