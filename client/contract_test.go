package client_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
)

// The contract tests; what they run against is set up in
// contract_target_test.go (CONTRACT_BASE_URL and friends).

func TestContractConversation(t *testing.T) {
	ctx := context.Background()
	c := newContract(t)
	app := c.client(c.main)
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
	if len(page.Messages) != 2 || page.Messages[0].Text != "And parking?" || page.Cursor == nil || *page.Cursor != page.Messages[1].Id {
		t.Fatalf("messages: %+v", page)
	}
	if page.Messages[0].Sender.Discriminator != gen.Application {
		t.Errorf("sender %v", page.Messages[0].Sender.Discriminator)
	}
	threads, err := app.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: []uuid.UUID{th.Id}, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(threads.Threads) != 1 || threads.Threads[0].Id != th.Id {
		t.Fatalf("thread by id: %+v", threads)
	}
	if got := threads.Threads[0].UpdatedUtc; !got.Equal(page.Messages[0].CreatedUtc) {
		t.Errorf("thread UpdatedUtc %v, want the newest message's CreatedUtc %v", got, page.Messages[0].CreatedUtc)
	}
}

func TestContractTypedErrors(t *testing.T) {
	ctx := context.Background()
	c := newContract(t)
	now := time.Now().UTC()
	_, err := c.client(c.main).GetThreads(ctx, client.ThreadsQuery{CreatedUtc: window(now.Add(-time.Hour), now), Count: 1001})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *client.Error, got %T %v", err, err)
	}
	// The wording is the server's; the contract is the status, a message
	// that names the property, and the request id.
	if apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "Limitation.Count") || apiErr.RequestId == "" {
		t.Errorf("error: %+v", apiErr)
	}
	bad := c.main
	bad.AccessToken = "nope"
	_, err = c.client(bad).AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "b"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: %v", err)
	}
}

func TestContractTenancy(t *testing.T) {
	ctx := context.Background()
	c := newContract(t)
	one := c.client(c.main)
	mine, err := one.AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]*client.Credentials{"other integration": c.otherIntegration, "other enterprise": c.otherEnterprise}
	for name, creds := range others {
		t.Run(name, func(t *testing.T) {
			if creds == nil {
				t.Skipf("no credentials for the %s (see contract_target_test.go)", name)
			}
			other := c.client(*creds)
			theirs, err := other.AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: "theirs"})
			if err != nil {
				t.Fatal(err)
			}
			page, err := other.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: []uuid.UUID{mine.Id}, CreatedUtc: window(mine.CreatedUtc, theirs.CreatedUtc)})
			if err != nil || len(page.Threads) != 0 {
				t.Errorf("the %s sees the thread: %v %+v", name, err, page)
			}
			_, err = other.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: mine.Id, Text: "intrusion"}})
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
				t.Errorf("the %s adds to the thread: %v", name, err)
			}
			// And the other way round: theirs is not in my listing.
			var seen []uuid.UUID
			for th, err := range one.AllThreads(ctx, client.ThreadsQuery{CreatedUtc: window(mine.CreatedUtc, theirs.CreatedUtc)}) {
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, th.Id)
			}
			if !slices.Contains(seen, mine.Id) || slices.Contains(seen, theirs.Id) {
				t.Errorf("the first integration lists %v: want %s in it and not %s", seen, mine.Id, theirs.Id)
			}
		})
	}
}

// TestContractRandomPagination checks, for random numbers of items and page
// sizes, that walking the pages visits every item exactly once, newest
// first, also while new items are being added during the walk. Other
// writers (simulated here, real on a shared server) add items in between;
// the walk must list those too, but only the test's own are compared.
func TestContractRandomPagination(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()
	c := newContract(t)
	app := c.client(c.main)
	addThread := func(subject string) gen.MessageThread {
		t.Helper()
		th, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "a", Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		return th
	}
	rounds := 4
	if c.external {
		rounds = 2 // each round is a few hundred requests
	}
	for round := range rounds {
		n, count := 1+rng.IntN(150), 1+rng.IntN(40)
		own := ids{}
		var threads []uuid.UUID // newest first
		var first, last time.Time
		for i := range n {
			th := addThread("s")
			own[th.Id] = true
			threads = append([]uuid.UUID{th.Id}, threads...)
			if i == 0 {
				first = th.CreatedUtc
			}
			last = th.CreatedUtc
			if rng.IntN(5) == 0 {
				addThread("someone else's") // another writer, in between
			}
		}
		var walked, late []uuid.UUID
		for th, err := range app.AllThreads(ctx, client.ThreadsQuery{CreatedUtc: window(first, last), Count: count}) {
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, th.Id)
			if rng.IntN(4) == 0 { // a newer item arrives during the walk
				late = append(late, addThread("late").Id)
			}
		}
		if got := own.only(walked); !slices.Equal(got, threads) {
			t.Fatalf("round %d: %d threads by %d: walked %d of them (of %d items), want each once, newest first", round, n, count, len(got), len(walked))
		}
		for _, id := range late {
			if slices.Contains(walked, id) {
				t.Fatalf("round %d: thread %s, added during the walk, was listed after the page it is newer than", round, id)
			}
		}

		// Messages, spread over a few of the test's threads, queried
		// together. Nobody else can write to them, so the walk must list
		// exactly the test's messages.
		m, mcount := 1+rng.IntN(200), 1+rng.IntN(40)
		threadIDs := threads[:min(3, len(threads))]
		var msgs []uuid.UUID
		for len(msgs) < m {
			batch := make([]gen.MessageParameters, min(1+rng.IntN(20), m-len(msgs)))
			for i := range batch {
				batch[i] = gen.MessageParameters{MessageThreadId: threadIDs[rng.IntN(len(threadIDs))], Text: "m"}
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
		for msg, err := range app.AllMessages(ctx, client.MessagesQuery{MessageThreadIds: threadIDs, Count: mcount}) {
			if err != nil {
				t.Fatal(err)
			}
			walkedMsgs = append(walkedMsgs, msg.Id)
			if rng.IntN(4) == 0 {
				if _, err := app.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: threadIDs[0], Text: "late"}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !slices.Equal(walkedMsgs, msgs) {
			t.Fatalf("round %d: %d messages by %d: walked %d, want each once, newest first", round, m, mcount, len(walkedMsgs))
		}
	}
}
