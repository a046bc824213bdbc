package server_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// brokenStore fails thread writes with an internal error whose text must
// never reach a client, and panics on message writes.
type brokenStore struct{ mews.Store }

const secretDetail = "open /var/lib/mewsref/secret.db: disk on fire"

func (brokenStore) MessageThreadsAdd(context.Context, mews.Thread) error {
	return errors.New(secretDetail)
}

func (brokenStore) MessagesAdd(context.Context, mews.Scope, []mews.Message) error {
	panic(secretDetail)
}

// syncBuffer is a log sink that the server writes from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInternalErrorsAreHiddenUnlessExposed(t *testing.T) {
	for _, expose := range []bool{false, true} {
		store, err := sqlite.Open(context.Background(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		logs := &syncBuffer{}
		e := newEnv(t, server.Config{
			Store: brokenStore{store}, ExposeInternalErrors: expose,
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		thread := e.post(pathThreadsAdd, demo("OriginalSender", "a", "Subject", "b"))
		msgs := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "Text": "hi"})
		for name, r := range map[string]response{"error": thread, "panic": msgs} {
			if r.status != 500 {
				t.Fatalf("%s: status %d %s", name, r.status, r.raw)
			}
			msg, _ := r.body["Message"].(string)
			if strings.Contains(msg, "disk on fire") || !strings.Contains(msg, "request id") {
				t.Errorf("%s: Message %q", name, msg)
			}
			shown := strings.Contains(string(r.raw), "disk on fire")
			if shown != expose {
				t.Errorf("%s with ExposeInternalErrors=%v: detail shown %v: %s", name, expose, shown, r.raw)
			}
			if !expose && r.body["Details"] != nil {
				t.Errorf("%s: Details %v, want null", name, r.body["Details"])
			}
			// The log has the detail, under the request id the client saw.
			rid := r.header.Get("Request-Id")
			if !strings.Contains(logs.String(), "request_id="+rid) || !strings.Contains(logs.String(), "disk on fire") {
				t.Errorf("%s: the log lacks the request id %s or the detail:\n%s", name, rid, logs)
			}
		}
	}
}

func TestLogsNeverHoldAFullToken(t *testing.T) {
	logs := &syncBuffer{}
	rl := server.RateLimit{Requests: 3, Window: 30e9}
	faults, err := server.ParseFaults("messages/getAll:500=0.5,429=0.3")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, server.Config{
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RateLimit: &rl, Faults: faults,
	})
	const strangerClient = "F00DF00DF00DF00DF00DF00DF00DF00D-F00DF00DF00DF00DF00DF00DF00DF00"
	const strangerAccess = "BEEFBEEFBEEFBEEFBEEFBEEFBEEFBEEF-BEEFBEEFBEEFBEEFBEEFBEEFBEEFBEE"
	th := e.addThread(demoClient, demoGross, "s")
	for range 4 {
		e.getThreads(demoGross)
		e.post(pathMessagesGetAll, demo("MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
		e.post(pathThreadsGetAll, creds(strangerClient, strangerAccess, "MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
		e.post(pathThreadsGetAll, creds(demoClient, strangerAccess, "MessageThreadIds", []any{th["Id"]}, "Limitation", limitation(1, nil)))
		e.post(pathThreadsGetAll, `{"ClientToken":"`+demoClient+`","AccessToken":"`+demoGross+`",`) // invalid JSON
		e.post(pathThreadsGetAll, creds(demoClient, demoGross, "Limitation", demoNet))              // schema violation
	}
	out := logs.String()
	if !strings.Contains(out, `"access_token":"C66E…453D"`) {
		t.Errorf("want the masked access token in the log:\n%s", out)
	}
	for _, tok := range []string{demoClient, demoGross, demoNet, strangerClient, strangerAccess} {
		if strings.Contains(out, tok) {
			t.Errorf("the log holds the full token %s:\n%s", tok, out)
		}
	}
}
