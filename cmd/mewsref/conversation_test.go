package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
)

// hookReceiver is the app's webhook endpoint: it records the message ids of
// MessageAdded events, and answers 503 while down.
type hookReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	down  bool
	calls int
	ids   map[uuid.UUID]bool
	err   error
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{ids: map[uuid.UUID]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls++
		if h.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var body struct {
			EnterpriseID  uuid.UUID `json:"EnterpriseId"`
			IntegrationID uuid.UUID `json:"IntegrationId"`
			Events        []struct {
				Discriminator string
				Value         struct {
					ID uuid.UUID `json:"Id"`
				}
			}
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil || body.EnterpriseID == uuid.Nil || body.IntegrationID == uuid.Nil || len(body.Events) == 0 {
			h.err = fmt.Errorf("bad webhook %s: %v", raw, err)
		}
		for _, e := range body.Events {
			if e.Discriminator == "MessageAdded" {
				h.ids[e.Value.ID] = true
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

func (h *hookReceiver) wait(t *testing.T, id string) {
	t.Helper()
	deadline := testwait.Deadline(t)
	for {
		h.mu.Lock()
		got, err, calls := h.ids[uuid.MustParse(id)], h.err, h.calls
		h.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if got {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no MessageAdded webhook for %s after %d calls", id, calls)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cliJSON runs a CLI subcommand of the binary with --json and decodes its
// output.
func cliJSON(t *testing.T, bin string, env []string, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--json")...)
	cmd.Env = append(os.Environ(), env...)
	raw, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("mewsref %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("mewsref %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, raw)
	}
}

// The "customer messaging" conversation on the real binary: the app (client
// package) opens a thread and writes, the enterprise replies and resolves
// (the CLI, through the admin API), the app receives MessageAdded webhooks
// (configured in the token file) and fetches the reply. Then a webhook
// queued while the receiver is down survives a restart of the binary; and
// the example program runs the same conversation against it.
func TestConversationWithWebhooksOnTheBinary(t *testing.T) {
	bin := binary(t)
	hooks := newHookReceiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tokens.yaml")
	yaml := fmt.Sprintf(`integrations:
  - name: Guest app
    clientToken: guest-app-client
    accessTokens:
      - token: guest-app-hotel
        enterpriseIds: [8f9b1c2e-0d3a-4c55-9a1e-2b7c6d5e4f30]
    webhooks: [%s/mews]
`, hooks.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "data.db")
	const adminTok = "e2e-admin-secret"
	p := start(t, bin, "-db", db, "-config", cfg, "-admin-token", adminTok)
	url := "http://" + p.addr
	env := []string{"MEWSREF_URL=" + validated(t, p.addr), "MEWSREF_CLIENT_TOKEN=guest-app-client", "MEWSREF_ACCESS_TOKEN=guest-app-hotel", "MEWSREF_ADMIN_TOKEN=" + adminTok}

	app, err := client.New(url, client.Credentials{ClientToken: "guest-app-client", AccessToken: "guest-app-hotel", Client: "e2e"},
		client.WithHTTPClient(&http.Client{Transport: apitest.NewValidator(t).Transport(t, nil), Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	thread, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Late check-in"})
	if err != nil {
		t.Fatal(err)
	}
	added, err := app.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: thread.Id, Text: "Arriving at 23:00"}})
	if err != nil {
		t.Fatal(err)
	}
	hooks.wait(t, added[0].Message.Id.String())

	var reply gen.Message
	cliJSON(t, bin, env, &reply, "reply", "--thread", thread.Id.String(), "--text", "The night desk is open.")
	if reply.Sender.Discriminator != gen.Enterprise {
		t.Fatalf("reply %+v", reply)
	}
	hooks.wait(t, reply.Id.String())
	page, err := app.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: []uuid.UUID{thread.Id}, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].Id != reply.Id || page.Messages[0].Sender.Discriminator != gen.Enterprise {
		t.Fatalf("the app's messages/getAll: %+v", page.Messages)
	}

	var resolved struct{ IsResolved bool }
	cliJSON(t, bin, env, &resolved, "resolve", "--thread", thread.Id.String())
	threads, err := app.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: []uuid.UUID{thread.Id}, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !resolved.IsResolved || len(threads.Threads) != 1 || !threads.Threads[0].IsResolved {
		t.Fatalf("after resolve: %v %+v", resolved, threads.Threads)
	}

	// The CLI's own side of the app: a thread, a message, pages.
	var t2 gen.MessageThread
	cliJSON(t, bin, env, &t2, "thread", "add", "--subject", "Parking", "--sender", "Jane Roe")
	var m2 gen.Message
	cliJSON(t, bin, env, &m2, "message", "post", "--thread", t2.Id.String(), "--text", "Is there a garage?")
	var list gen.MessageThreadResult
	cliJSON(t, bin, env, &list, "threads", "--count", "1", "--all-pages")
	if len(list.MessageThreads) != 2 {
		t.Errorf("threads --all-pages: %+v", list)
	}
	var msgs gen.MessageResult
	cliJSON(t, bin, env, &msgs, "messages", "--thread", thread.Id.String(), "--count", "1")
	if len(msgs.Messages) != 1 || msgs.Cursor == nil || msgs.Messages[0].Id != reply.Id {
		t.Errorf("messages --count 1: %+v", msgs)
	}
	hooks.wait(t, m2.Id.String())

	// A webhook that could not be delivered is still sent after a restart.
	hooks.setDown(true)
	late, err := app.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: thread.Id, Text: "One more thing"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFailedAttempt(t, bin, env)
	p.stop(t)
	hooks.setDown(false)
	p = start(t, bin, "-db", db, "-config", cfg, "-admin-token", adminTok)
	hooks.wait(t, late[0].Message.Id.String())

	// The example program: the same conversation, the demo integration.
	example := filepath.Join(dir, "conversation")
	if out, err := exec.Command("go", "build", "-o", example, "../../examples/conversation").CombinedOutput(); err != nil {
		t.Fatalf("build the example: %v\n%s", err, out)
	}
	out, err := exec.Command(example, "-url", validated(t, p.addr), "-admin-token", adminTok).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "conversation complete") {
		t.Fatalf("example: %v\n%s", err, out)
	}
	p.stop(t)
}

// waitFailedAttempt waits until the newest delivery has a failed attempt.
func waitFailedAttempt(t *testing.T, bin string, env []string) {
	t.Helper()
	deadline := testwait.Deadline(t)
	for {
		var res struct {
			Deliveries []struct {
				Status   string
				Attempts int
			}
		}
		cliJSON(t, bin, env, &res, "deliveries", "--count", "1")
		if len(res.Deliveries) == 1 && res.Deliveries[0].Attempts >= 1 && res.Deliveries[0].Status == "Pending" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt: %+v", res)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
