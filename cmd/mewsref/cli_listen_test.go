package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/testwait"
)

// listener is a running `mewsref listen`: its output lines as they come.
type listener struct {
	cmd    *exec.Cmd
	lines  chan string // stdout
	stderr chan string
	done   chan error
}

func startListen(t *testing.T, bin, addr string, args ...string) *listener {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"listen"}, args...)...)
	cmd.Env = append(os.Environ(), "MEWSREF_URL="+validated(t, addr), "MEWSREF_ADMIN_TOKEN="+e2eAdmin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &listener{cmd: cmd, lines: make(chan string, 100), stderr: make(chan string, 100), done: make(chan error, 1)}
	var wg sync.WaitGroup
	for r, ch := range map[io.Reader]chan string{stdout: l.lines, stderr: l.stderr} {
		wg.Go(func() {
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				ch <- sc.Text()
			}
		})
	}
	go func() { wg.Wait(); l.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if line := l.next(t, l.stderr); !strings.HasPrefix(line, "Ready: ") {
		t.Fatalf("listen: %q, want the Ready line", line)
	}
	return l
}

func (l *listener) next(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case err := <-l.done:
		t.Fatalf("listen exited: %v", err)
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("listen printed nothing")
	}
	return ""
}

// stop signals listen and waits for it to exit cleanly, with the line
// that says the URLs were restored.
func (l *listener) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := l.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if line := l.next(t, l.stderr); !strings.HasPrefix(line, "Restored the webhook URLs") {
		t.Errorf("after %s: %q", sig, line)
	}
	select {
	case err := <-l.done:
		if err != nil {
			t.Fatalf("listen after %s: %v", sig, err)
		}
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatalf("listen did not exit after %s", sig)
	}
}

func webhookURLs(t *testing.T, addr string) []any {
	t.Helper()
	hooks := adminPost(t, addr, "webhooks/getAll", map[string]any{})
	return hooks["Webhooks"].([]any)[0].(map[string]any)["Urls"].([]any)
}

// The webhook development loop on the real binary: mewsref listen takes
// over the integration's webhook URL, prints each webhook, forwards it to
// the app and answers with the app's status (so the server retries what the
// app refused), and gives the URL back on Ctrl-C and on SIGTERM; a delivery
// can be sent again with mewsref deliveries redeliver; and the mews profile
// follows the app's 307.
func TestListenForwardsAndRestoresOnTheBinary(t *testing.T) {
	bin := binary(t)
	var mu sync.Mutex
	var got []string // bodies that reached the app
	fail := 1        // the app refuses its first webhook
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/hooks", http.StatusTemporaryRedirect)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(body))
		if fail > 0 {
			fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}

	p := start(t, bin, "-db", ":memory:", "-admin-token", e2eAdmin, "-webhook-profile", "mews")
	integ := adminPost(t, p.addr, "webhooks/getAll", map[string]any{})["Webhooks"].([]any)[0].(map[string]any)["IntegrationId"]
	original := "http://127.0.0.1:9/original"
	adminPost(t, p.addr, "webhooks/set", map[string]any{"IntegrationId": integ, "Urls": []string{original}})

	l := startListen(t, bin, p.addr, "--forward-to", app.URL+"/hooks", "--json")
	urls := webhookURLs(t, p.addr)
	if len(urls) != 1 || !strings.HasPrefix(urls[0].(string), "http://127.0.0.1:") || urls[0] == original {
		t.Fatalf("while listening, the URLs are %v", urls)
	}
	status, body := post(t, p.addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"Ada","Subject":"Listen"}`)
	if status != 200 {
		t.Fatal(body)
	}
	thread := body["MessageThreads"].([]any)[0].(map[string]any)["Id"].(string)
	status, body = post(t, p.addr, "messages/add", `{`+demoCreds+`,"Messages":[{"MessageThreadId":"`+thread+`","Text":"hello"}]}`)
	if status != 200 {
		t.Fatal(body)
	}
	msg := body["Messages"].([]any)[0].(map[string]any)["Message"].(map[string]any)["Id"].(string)

	var first struct {
		Webhook struct {
			Events []struct{ Value struct{ Id string } }
		}
		ForwardedTo string
		StatusCode  int
	}
	if err := json.Unmarshal([]byte(l.next(t, l.lines)), &first); err != nil {
		t.Fatal(err)
	}
	if len(first.Webhook.Events) != 1 || first.Webhook.Events[0].Value.Id != msg || first.StatusCode != 503 || first.ForwardedTo != app.URL+"/hooks" {
		t.Fatalf("first webhook printed as %+v, want message %s refused 503 by the app", first, msg)
	}
	if r := received(); len(r) != 1 || !strings.Contains(r[0], msg) {
		t.Fatalf("the app received %v", r)
	}
	// The server saw the 503 (the mews profile retries minutes later): send
	// it again now.
	var deliveries struct {
		Deliveries []struct{ Id, Attempts, LastStatusCode int }
	}
	for deadline := testwait.Deadline(t); ; time.Sleep(20 * time.Millisecond) {
		out, err := runCLI(t, bin, p.addr, "deliveries", "--json", "--count", "1")
		if err != nil {
			t.Fatal(err, out)
		}
		if err := json.Unmarshal([]byte(out), &deliveries); err != nil {
			t.Fatal(err)
		}
		if d := deliveries.Deliveries; len(d) == 1 && d[0].Attempts == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recorded attempt: %+v", deliveries)
		}
	}
	if d := deliveries.Deliveries[0]; d.LastStatusCode != 503 {
		t.Fatalf("the server recorded %+v, want the app's 503", d)
	}
	out, err := runCLI(t, bin, p.addr, "deliveries", "redeliver", "--json", "1")
	if err != nil {
		t.Fatalf("redeliver: %v\n%s", err, out)
	}
	var second struct{ StatusCode int }
	if err := json.Unmarshal([]byte(l.next(t, l.lines)), &second); err != nil || second.StatusCode != 204 {
		t.Fatalf("the redelivery printed as %+v (%v), want the app's 204", second, err)
	}
	if r := received(); len(r) != 2 || r[1] != r[0] {
		t.Fatalf("the app received %v, want the same webhook twice", r)
	}
	l.stop(t, syscall.SIGINT)
	if urls := webhookURLs(t, p.addr); len(urls) != 1 || urls[0] != original {
		t.Fatalf("after Ctrl-C the URLs are %v, want %s again", urls, original)
	}

	// Readable output, no forwarding, stopped by SIGTERM.
	l = startListen(t, bin, p.addr)
	status, _ = post(t, p.addr, "messages/add", `{`+demoCreds+`,"Messages":[{"MessageThreadId":"`+thread+`","Text":"again"}]}`)
	if status != 200 {
		t.Fatal(status)
	}
	if line := l.next(t, l.lines); !strings.Contains(line, "MessageAdded  message ") || !strings.Contains(line, "enterprise 3fa85f64-5717-4562-b3fc-2c963f66afa6") {
		t.Errorf("readable line %q", line)
	}
	l.stop(t, syscall.SIGTERM)
	if urls := webhookURLs(t, p.addr); len(urls) != 1 || urls[0] != original {
		t.Fatalf("after SIGTERM the URLs are %v, want %s again", urls, original)
	}

	// The mews profile follows the app's 307 to where it moved.
	adminPost(t, p.addr, "webhooks/set", map[string]any{"IntegrationId": integ, "Urls": []string{app.URL + "/old"}})
	status, body = post(t, p.addr, "messages/add", `{`+demoCreds+`,"Messages":[{"MessageThreadId":"`+thread+`","Text":"moved"}]}`)
	if status != 200 {
		t.Fatal(body)
	}
	moved := body["Messages"].([]any)[0].(map[string]any)["Message"].(map[string]any)["Id"].(string)
	for deadline := testwait.Deadline(t); ; time.Sleep(20 * time.Millisecond) {
		if r := received(); len(r) == 3 && strings.Contains(r[2], moved) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redirected webhook did not arrive: %v", received())
		}
	}
	p.stop(t)
}
