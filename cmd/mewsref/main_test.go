package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
)

func TestFlagsTakeDefaultsFromEnvironment(t *testing.T) {
	env := map[string]string{"MEWSREF_ADDR": "127.0.0.1:9999", "MEWSREF_BODY_LIMIT": "2048", "MEWSREF_DB": "env.db"}
	o, err := parseFlags([]string{"-db", "flag.db"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:9999" || o.bodyLimit != 2048 || o.db != "flag.db" {
		t.Errorf("got addr %q, body limit %d, db %q", o.addr, o.bodyLimit, o.db)
	}
	if _, err := parseFlags(nil, func(k string) string {
		if k == "MEWSREF_BODY_LIMIT" {
			return "lots"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "MEWSREF_BODY_LIMIT") {
		t.Errorf("a bad environment value must be named in the error, got %v", err)
	}
}

// binary builds the server once per test run (a dozen tests use it; a
// build per test made the package slower than its timeout on a busy
// machine). TestMain removes it at the end.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var binDir string // set by TestMain

var buildOnce = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "mewsref")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mewsref-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
	done chan error
}

var listenLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.WriteString(sc.Text() + "\n")
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case p.addr = <-addr:
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatalf("server did not start:\n%s", p.logs)
	}
	return p
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("no exit after SIGTERM")
	}
}

const demoCreds = `"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D","AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D","Client":"e2e"`

// validated is the URL of a proxy to the binary at addr that validates
// every answer against the spec (apitest): the server to give a child
// process (the CLI, the example), whose answers are then validated too.
func validated(t *testing.T, addr string) string {
	t.Helper()
	return apitest.Server(t, httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})).URL
}

// post sends one operation to the binary and validates the response
// against the spec.
func post(t *testing.T, addr, op, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/connector/v1/"+op, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if err := apitest.NewValidator(t).Check(req, res.StatusCode, res.Header, raw); err != nil {
		t.Errorf("response to %s violates the spec: %v\n%s", op, err, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func TestBinaryKeepsDataAcrossRestartAndStopsOnSIGTERM(t *testing.T) {
	bin := binary(t)
	db := filepath.Join(t.TempDir(), "data.db")

	p := start(t, bin, "-db", db)
	status, body := post(t, p.addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"John Doe","Subject":"kept"}`)
	if status != 200 {
		t.Fatalf("add: %d %v", status, body)
	}
	id := body["MessageThreads"].([]any)[0].(map[string]any)["Id"].(string)
	p.stop(t)
	if !strings.Contains(p.logs.String(), "msg=request") || strings.Contains(p.logs.String(), "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D") {
		t.Errorf("want request log lines without full tokens, got:\n%s", p.logs)
	}

	p = start(t, bin, "-db", db)
	status, body = post(t, p.addr, "messageThreads/getAll", `{`+demoCreds+`,"MessageThreadIds":["`+id+`"],"Limitation":{"Count":10}}`)
	if status != 200 || len(body["MessageThreads"].([]any)) != 1 {
		t.Fatalf("after restart: %d %v", status, body)
	}
	p.stop(t)
}

func TestBinaryRefusesABadConfig(t *testing.T) {
	bin := binary(t)
	cfg := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(cfg, []byte("integrations:\n  - clientTokn: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-db", ":memory:", "-config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "clientTokn") {
		t.Errorf("want a failure naming the bad key, got %v: %s", err, out)
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/mews?sslmode=disable":                   "postgres://app:xxxxx@db:5432/mews?sslmode=disable",
		"postgres://app@db/mews?password=s3cret&sslmode=disable":               "postgres://app@db/mews?password=xxxxx&sslmode=disable",
		"postgresql://app@db/mews?sslpassword=k3y&sslkey=/k.pem":               "postgresql://app@db/mews?sslkey=%2Fk.pem&sslpassword=xxxxx",
		"postgres://app:p%40ss@db/mews?password=p%26w":                         "postgres://app:xxxxx@db/mews?password=xxxxx",
		"postgres://app@db/mews":                                               "postgres://app@db/mews",
		"postgres://app:s3cret@db:notaport/mews?password=s3cret2&sslmode=x%zz": "postgres://app:xxxxx@db:notaport/mews?password=xxxxx&sslmode=x%zz",
		"mewsref.db": "mewsref.db",
		":memory:":   ":memory:",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

// A DSN's secrets appear nowhere in what start-up prints when the database
// cannot be reached, not even in the driver's own message.
func TestStartupErrorsMaskTheDSNSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now: connection refused
	for _, dsn := range []string{
		fmt.Sprintf("postgres://app:Pw1secret@127.0.0.1:%d/mews?password=Pw2secret&sslmode=disable", port),
		"postgres://app:Pw1secret@127.0.0.1:notaport/mews?password=Pw2secret",
	} {
		var out, errOut bytes.Buffer
		err := dispatch(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", dsn}, func(string) string { return "" }, &out, &errOut)
		if err == nil {
			t.Fatalf("%s: started", dsn)
		}
		all := err.Error() + errOut.String()
		if strings.Contains(all, "Pw1secret") || strings.Contains(all, "Pw2secret") || !strings.Contains(all, "xxxxx") {
			t.Errorf("a secret shows, or nothing is masked: %s", all)
		}
	}
}
