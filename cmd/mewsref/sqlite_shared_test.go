package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// What the README promises for two servers on one SQLite file: both read
// and write the same data, every acknowledged write is there for both, and
// each webhook is sent once, whichever process queued it.
func TestTwoServersShareOneSQLiteFile(t *testing.T) {
	bin := binary(t)
	db := filepath.Join(t.TempDir(), "shared.db")
	procs := []*proc{start(t, bin, "-db", db, "-admin-token", "shared"), start(t, bin, "-db", db, "-admin-token", "shared")}

	// The receiver counts each message's webhooks.
	var mu sync.Mutex
	received := map[uuid.UUID]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Events []struct{ Value struct{ Id uuid.UUID } }
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, e := range body.Events {
			received[e.Value.Id]++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer rcv.Close()

	demo := demoCredentials()
	demo.Client = "shared-sqlite"
	clients := make([]*client.Client, 2)
	admins := make([]*admin.ClientWithResponses, 2)
	validated := &http.Client{Transport: apitest.NewValidator(t).Transport(t, nil), Timeout: 30 * time.Second}
	for i, p := range procs {
		var err error
		if clients[i], err = client.New("http://"+p.addr, demo, client.WithoutRetries(), client.WithHTTPClient(validated)); err != nil {
			t.Fatal(err)
		}
		if admins[i], err = admin.NewClientWithResponses("http://"+p.addr, admin.WithHTTPClient(validated), admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer shared")
			return nil
		})); err != nil {
			t.Fatal(err)
		}
	}
	// Set through one process, stored in the file: both dispatchers send.
	integration := server.IntegrationID(demo.ClientToken)
	if rsp, err := admins[0].AdminWebhooksSetWithResponse(t.Context(), admin.AdminWebhooks{IntegrationId: integration, Urls: []string{rcv.URL}}); err != nil || rsp.JSON200 == nil {
		t.Fatalf("webhooks/set: %v", err)
	}

	ctx := t.Context()
	thread, err := clients[0].AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	// Writers on both processes at once.
	const perWriter = 15
	var wg sync.WaitGroup
	ids := make(chan uuid.UUID, 4*perWriter)
	errs := make(chan error, 4*perWriter)
	for w := range 4 {
		wg.Go(func() {
			for i := range perWriter {
				added, err := clients[(w+i)%2].AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: thread.Id, Text: fmt.Sprintf("w%d m%d", w, i)}})
				if err != nil {
					errs <- err
					return
				}
				ids <- added[0].Message.Id
			}
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Fatalf("a write through two processes: %v", err)
	}
	want := map[uuid.UUID]bool{}
	for id := range ids {
		want[id] = true
	}

	// Every acknowledged message is read back through either process.
	for i, cl := range clients {
		got := map[uuid.UUID]bool{}
		for m, err := range cl.AllMessages(ctx, client.MessagesQuery{MessageThreadIds: []uuid.UUID{thread.Id}, Count: 7}) {
			if err != nil {
				t.Fatal(err)
			}
			got[m.Id] = true
		}
		if len(got) != len(want) {
			t.Errorf("process %d lists %d messages, %d were added", i, len(got), len(want))
		}
	}

	// Each webhook once: wait until no delivery is pending, then count.
	deadline := time.Now().Add(time.Minute)
	for {
		rsp, err := admins[1].AdminWebhookDeliveriesGetAllWithResponse(ctx, admin.AdminDeliveriesParameters{Count: 1000})
		if err != nil || rsp.JSON200 == nil {
			t.Fatalf("deliveries: %v", err)
		}
		pending, delivered := 0, 0
		for _, d := range rsp.JSON200.Deliveries {
			switch d.Status {
			case admin.Pending:
				pending++
			case admin.Delivered:
				delivered++
			default:
				t.Fatalf("delivery %d: %s %v", d.Id, d.Status, d.LastError)
			}
		}
		if pending == 0 && delivered >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d deliveries pending, %d delivered of %d", pending, delivered, len(want))
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond): // polling the server's own state
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range want {
		if received[id] != 1 {
			t.Errorf("message %s: %d webhooks, want exactly 1", id, received[id])
		}
	}
	for _, p := range procs {
		p.stop(t)
	}
}
