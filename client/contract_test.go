package client_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/server"
)

// Contract tests: the client drives the real server in-process, and every
// response the server sends is validated against the embedded spec.

var (
	integration1Gross = client.Credentials{
		ClientToken: "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		AccessToken: "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
		Client:      "contract-tests 1.0",
	}
	integration1Net = client.Credentials{
		ClientToken: integration1Gross.ClientToken,
		AccessToken: "4D6C7ABE0E6A4681B0AFB16900AE5D86-DF50CBC89E1D4FF5859DDF021649ED5",
		Client:      "contract-tests 1.0",
	}
	integration2Gross = client.Credentials{
		ClientToken: "E916C341431C4D28A866AD200152DBD3-A046EB5583FFBE94DE1172237763712",
		AccessToken: "CC150C355D6A4048A220AD20015483AB-B6D09C0C84B09538077CB8FFBB907B4",
		Client:      "contract-tests 1.0",
	}
)

type contract struct {
	t   *testing.T
	url string
}

func newContract(t *testing.T) *contract {
	t.Helper()
	h, closeFn, err := server.New(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	return &contract{t: t, url: apitest.Server(t, h).URL}
}

func (c *contract) client(creds client.Credentials) *client.Client {
	c.t.Helper()
	cl, err := client.New(c.url, creds, client.WithoutRetries())
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// everything is a filter that matches every thread created around now.
func everything() *gen.TimeInterval {
	now := time.Now().UTC()
	return &gen.TimeInterval{StartUtc: now.Add(-24 * time.Hour), EndUtc: now.Add(24 * time.Hour)}
}

func TestContractConversation(t *testing.T) {
	ctx := context.Background()
	app := newContract(t).client(integration1Gross)
	th, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Breakfast"})
	if err != nil {
		t.Fatal(err)
	}
	if th.IsResolved || !th.CreatedUtc.Equal(th.UpdatedUtc) || th.Subject != "Breakfast" {
		t.Errorf("new thread: %+v", th)
	}
	label := "q1"
	added, err := app.AddMessages(ctx, []gen.MessageParameters{
		{MessageThreadId: th.Id, Text: "Is breakfast included?", Identifier: &label},
		{MessageThreadId: th.Id, Text: "And parking?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 2 || added[0].Identifier == nil || *added[0].Identifier != "q1" || added[1].Identifier != nil {
		t.Fatalf("added: %+v", added)
	}
	page, err := app.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: []uuid.UUID{th.Id}, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].Text != "And parking?" || *page.Cursor != page.Messages[1].Id {
		t.Fatalf("messages: %+v", page)
	}
	if page.Messages[0].Sender.Discriminator != gen.Application {
		t.Errorf("sender %v", page.Messages[0].Sender.Discriminator)
	}
	threads, err := app.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: []uuid.UUID{th.Id}, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := threads.Threads[0].UpdatedUtc; !got.Equal(page.Messages[0].CreatedUtc) {
		t.Errorf("thread UpdatedUtc %v, want the newest message's CreatedUtc %v", got, page.Messages[0].CreatedUtc)
	}
}

func TestContractTypedErrors(t *testing.T) {
	ctx := context.Background()
	c := newContract(t)
	_, err := c.client(integration1Gross).GetThreads(ctx, client.ThreadsQuery{CreatedUtc: everything(), Count: 1001})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *client.Error, got %T %v", err, err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Message != "Limitation.Count must be between 1 and 1000." || apiErr.RequestId == "" {
		t.Errorf("error: %+v", apiErr)
	}
	bad := integration1Gross
	bad.AccessToken = "nope"
	_, err = c.client(bad).AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "b"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: %v", err)
	}
}

func TestContractTenancy(t *testing.T) {
	ctx := context.Background()
	c := newContract(t)
	one, oneNet, two := c.client(integration1Gross), c.client(integration1Net), c.client(integration2Gross)
	mine, err := one.AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := two.AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	for name, cl := range map[string]*client.Client{"other integration": two, "other enterprise": oneNet} {
		page, err := cl.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: []uuid.UUID{mine.Id}, CreatedUtc: everything()})
		if err != nil || len(page.Threads) != 0 {
			t.Errorf("%s sees the thread: %v %+v", name, err, page)
		}
		_, err = cl.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: mine.Id, Text: "intrusion"}})
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
			t.Errorf("%s adds to the thread: %v", name, err)
		}
	}
	var seen []uuid.UUID
	for th, err := range one.AllThreads(ctx, client.ThreadsQuery{CreatedUtc: everything()}) {
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, th.Id)
	}
	if !slices.Equal(seen, []uuid.UUID{mine.Id}) || slices.Contains(seen, theirs.Id) {
		t.Errorf("integration 1 lists %v", seen)
	}
}

// TestContractRandomPagination checks, for random numbers of items and page
// sizes, that walking the pages visits every item exactly once, newest
// first, also while new items are being added during the walk.
func TestContractRandomPagination(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()
	for round := range 4 {
		c := newContract(t)
		app := c.client(integration1Gross)
		n, count := 1+rng.IntN(150), 1+rng.IntN(40)
		threads := make([]uuid.UUID, n) // oldest first
		for i := range threads {
			th, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "s"})
			if err != nil {
				t.Fatal(err)
			}
			threads[i] = th.Id
		}
		slices.Reverse(threads)
		var walked []uuid.UUID
		for th, err := range app.AllThreads(ctx, client.ThreadsQuery{CreatedUtc: everything(), Count: count}) {
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, th.Id)
			if rng.IntN(4) == 0 { // a newer item arrives during the walk
				if _, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "late", Subject: "s"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !slices.Equal(walked, threads) {
			t.Fatalf("round %d: %d threads by %d: walked %d items, want each of %d once, newest first", round, n, count, len(walked), n)
		}

		// Messages, spread over a few threads, queried together.
		m, mcount := 1+rng.IntN(200), 1+rng.IntN(40)
		ids := threads[:min(3, len(threads))]
		var msgs []uuid.UUID
		for len(msgs) < m {
			batch := make([]gen.MessageParameters, min(1+rng.IntN(20), m-len(msgs)))
			for i := range batch {
				batch[i] = gen.MessageParameters{MessageThreadId: ids[rng.IntN(len(ids))], Text: "m"}
			}
			added, err := app.AddMessages(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range added {
				msgs = append(msgs, a.Message.Id)
			}
		}
		slices.Reverse(msgs)
		var walkedMsgs []uuid.UUID
		for msg, err := range app.AllMessages(ctx, client.MessagesQuery{MessageThreadIds: ids, Count: mcount}) {
			if err != nil {
				t.Fatal(err)
			}
			walkedMsgs = append(walkedMsgs, msg.Id)
			if rng.IntN(4) == 0 {
				if _, err := app.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: ids[0], Text: "late"}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !slices.Equal(walkedMsgs, msgs) {
			t.Fatalf("round %d: %d messages by %d: walked %d, want each once, newest first", round, m, mcount, len(walkedMsgs))
		}
	}
}
