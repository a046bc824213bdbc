package main

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// cliEnv runs CLI subcommands in process against an in-memory server.
func cliEnv(t *testing.T) func(args ...string) (string, error) {
	h, closeFn, err := server.New(server.Config{AdminToken: "cli-admin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	ts := httptest.NewServer(apitest.NewValidator(t).Handler(t, h))
	t.Cleanup(ts.Close)
	env := map[string]string{"MEWSREF_URL": ts.URL}
	return func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(t.Context(), args, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), err
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func TestCLIReadableOutput(t *testing.T) {
	run := cliEnv(t)
	out, err := run("thread", "add", "--subject", "Late check-in", "--sender", "John Doe")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "SUBJECT") || !strings.Contains(out, "Late check-in") {
		t.Fatalf("thread add:\n%s", out)
	}
	thread := uuidRE.FindString(out)
	for _, text := range []string{"first", "second"} {
		if _, err := run("message", "post", "--thread", thread, "--text", text); err != nil {
			t.Fatal(err)
		}
	}
	out, err = run("messages", "--thread", thread, "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "second") || strings.Contains(out, "first") || !strings.Contains(out, "more: add --cursor") {
		t.Errorf("messages, one page:\n%s", out)
	}
	if out, err = run("messages", "--thread", thread, "--count", "1", "--all-pages"); err != nil || !strings.Contains(out, "first") {
		t.Errorf("messages --all-pages: %v\n%s", err, out)
	}

	if _, err := run("reply", "--thread", thread, "--text", "hello"); err == nil || !strings.Contains(err.Error(), "--admin-token") {
		t.Errorf("reply without the admin token: %v", err)
	}
	if _, err := run("reply", "--thread", thread, "--text", "hello", "--admin-token", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("reply with a wrong token: %v", err)
	}
	if out, err = run("reply", "--thread", thread, "--text", "Welcome!", "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "Enterprise") {
		t.Errorf("reply: %v\n%s", err, out)
	}
	if out, err = run("resolve", "--thread", thread, "--admin-token", "cli-admin"); err != nil || !strings.Contains(out, "true") {
		t.Errorf("resolve: %v\n%s", err, out)
	}
	if out, err = run("threads"); err != nil || !strings.Contains(out, thread) || !strings.Contains(out, "true") {
		t.Errorf("threads: %v\n%s", err, out)
	}
	if _, err := run("messages", "--thread", "nope"); err == nil || !strings.Contains(err.Error(), "UUID") {
		t.Errorf("bad thread id: %v", err)
	}
	if out, err = run("help"); err != nil || !strings.Contains(out, "reply in a thread") {
		t.Errorf("help: %v\n%s", err, out)
	}
}
