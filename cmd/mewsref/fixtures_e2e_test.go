package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/pgtest"
)

const e2eAdmin = "e2e-admin-secret"

// adminPost calls an admin operation of the binary and validates the
// response against admin.yaml.
func adminPost(t *testing.T, addr, op string, body any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/_admin/v1/"+op, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e2eAdmin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if err := apitest.NewValidator(t).Check(req, res.StatusCode, res.Header, out); err != nil {
		t.Errorf("response to %s violates the spec: %v\n%s", op, err, out)
	}
	if res.StatusCode != 200 {
		t.Fatalf("%s: %d %s", op, res.StatusCode, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// runCLI runs a subcommand of the binary and returns its standard output.
func runCLI(t *testing.T, bin, addr string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MEWSREF_URL="+validated(t, addr), "MEWSREF_ADMIN_TOKEN="+e2eAdmin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// readAll is every answer of the demo integration's gross-pricing
// enterprise: its threads and the messages of each, in the API's order.
func readAll(t *testing.T, addr string) string {
	t.Helper()
	var b strings.Builder
	for _, window := range []string{`"StartUtc":"2026-06-01T00:00:00Z","EndUtc":"2026-08-31T00:00:00Z"`, `"StartUtc":"2026-09-15T00:00:00Z","EndUtc":"2026-12-14T00:00:00Z"`} {
		status, threads := post(t, addr, "messageThreads/getAll", `{`+demoCreds+`,"UpdatedUtc":{`+window+`},"Limitation":{"Count":1000}}`)
		if status != 200 {
			t.Fatalf("getAll: %d %v", status, threads)
		}
		raw, _ := json.Marshal(threads["MessageThreads"])
		b.Write(raw)
		for _, th := range threads["MessageThreads"].([]any) {
			id := th.(map[string]any)["Id"].(string)
			status, msgs := post(t, addr, "messages/getAll", `{`+demoCreds+`,"MessageThreadIds":["`+id+`"],"Limitation":{"Count":1000}}`)
			if status != 200 {
				t.Fatalf("messages: %d %v", status, msgs)
			}
			raw, _ := json.Marshal(msgs["Messages"])
			b.WriteString("\n" + string(raw))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Fixtures and snapshots on the real binary, on each engine: -seed loads an
// example fixture at start (and again after a restart without duplicates),
// mewsref export writes a snapshot, and after a reset mewsref import of it
// gives the same answers.
func TestFixturesAndSnapshotsOnTheBinary(t *testing.T) {
	bin := binary(t)
	dbs := map[string]func(t *testing.T) string{
		"SQLite":     func(t *testing.T) string { return filepath.Join(t.TempDir(), "data.db") },
		"PostgreSQL": func(t *testing.T) string { return pgtest.DSN(t) },
	}
	for _, name := range []string{"SQLite", "PostgreSQL"} {
		t.Run(name, func(t *testing.T) {
			db := dbs[name](t)
			fixture := "../../examples/fixtures/long-history.yaml"
			p := start(t, bin, "-db", db, "-admin-token", e2eAdmin, "-seed", fixture)
			seeded := readAll(t, p.addr)
			if n := strings.Count(seeded, `"Subject"`); n != 3 || !strings.Contains(seeded, "Lost umbrella") {
				t.Fatalf("after -seed, %d threads:\n%s", n, seeded)
			}
			p.stop(t) // the log is complete (and safe to read) once it exited
			if !strings.Contains(p.logs.String(), "seed imported") {
				t.Errorf("no log line of the seed:\n%s", p.logs)
			}
			p = start(t, bin, "-db", db, "-admin-token", e2eAdmin, "-seed", fixture)
			if again := readAll(t, p.addr); again != seeded {
				t.Fatalf("a second start with -seed changed the data:\n%s\n%s", seeded, again)
			}

			// More history through the API, then a snapshot.
			status, body := post(t, p.addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"Ada Lovelace","Subject":"Spa booking"}`)
			if status != 200 {
				t.Fatal(body)
			}
			before := readAll(t, p.addr)
			snap := filepath.Join(t.TempDir(), "snapshot.json")
			if out, err := runCLI(t, bin, p.addr, "export", "--out", snap); err != nil {
				t.Fatalf("export: %v\n%s", err, out)
			}
			stdout, err := runCLI(t, bin, p.addr, "export", "--enterprise", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
			if err != nil {
				t.Fatalf("export to stdout: %v\n%s", err, stdout)
			}
			if file, _ := os.ReadFile(snap); string(file) != stdout {
				t.Errorf("export --out and to standard output differ")
			}
			adminPost(t, p.addr, "reset", map[string]any{})
			if empty := readAll(t, p.addr); empty != "[]\n[]\n" {
				t.Fatalf("after reset: %s", empty)
			}
			out, err := runCLI(t, bin, p.addr, "import", snap, "--json")
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			var counts struct{ AddedMessageThreads, AddedMessages int }
			if err := json.Unmarshal([]byte(out), &counts); err != nil || counts.AddedMessageThreads != 4 || counts.AddedMessages != 6 {
				t.Errorf("import: %s (%v)", out, err)
			}
			if after := readAll(t, p.addr); after != before {
				t.Fatalf("after export, reset and import:\nbefore %s\nafter  %s", before, after)
			}
			// The readable output, and a file that is not a fixture.
			if out, err := runCLI(t, bin, p.addr, "import", snap); err != nil || !strings.Contains(out, "ALREADY STORED") {
				t.Errorf("import again: %v\n%s", err, out)
			}
			bad := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(bad, []byte("MessageThreads:\n  - Subject: no sender\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := runCLI(t, bin, p.addr, "import", bad); err == nil || !strings.Contains(out, "MessageThreads[0].OriginalSender is required") || strings.Contains(out, "invalid:") {
				t.Errorf("a bad fixture: %v\n%s", err, out)
			}
			p.stop(t)
		})
	}
}
