package mewsreftest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/mewsreftest"
	"github.com/mewsref/mewsref/server"
)

// guestApp is a small "integration under test", as a user of the package
// would have it: it opens a thread for a guest's question and, when Mews
// announces a message, reads it and keeps the hotel's answer.
type guestApp struct {
	mews   *client.Client
	thread uuid.UUID
}

func (a *guestApp) ask(ctx context.Context, guest, question string) error {
	th, err := a.mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: guest, Subject: "Question"})
	if err != nil {
		return err
	}
	a.thread = th.Id
	_, err = a.mews.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: th.Id, Text: question}})
	return err
}

// onMessageAdded returns the hotel's answer if message is one, "" if not.
func (a *guestApp) onMessageAdded(ctx context.Context, message uuid.UUID) (string, error) {
	for m, err := range a.mews.AllMessages(ctx, client.MessagesQuery{MessageThreadIds: []uuid.UUID{a.thread}, Count: 100}) {
		if err != nil {
			return "", err
		}
		if m.Id == message && m.Sender.Discriminator == gen.Enterprise {
			return m.Text, nil
		}
	}
	return "", nil
}

// The test of the integration, written only with the helper.
func TestGuestAppGetsTheHotelsReply(t *testing.T) {
	srv := mewsreftest.New(t)
	hooks := srv.Webhooks(t)
	app := &guestApp{mews: srv.Client()}
	ctx := context.Background()

	if err := app.ask(ctx, "John Doe", "Is breakfast included?"); err != nil {
		t.Fatal(err)
	}
	guests := hooks.Next(t, 10*time.Second) // the app's own message is announced too
	if answer, err := app.onMessageAdded(ctx, guests.MessageId); err != nil || answer != "" {
		t.Fatalf("the guest's own message taken for an answer: %q, %v", answer, err)
	}

	srv.Reply(t, app.thread, "Yes, from 7 to 10.")
	answer, err := app.onMessageAdded(ctx, hooks.Next(t, 10*time.Second).MessageId)
	if err != nil {
		t.Fatal(err)
	}
	if answer != "Yes, from 7 to 10." {
		t.Errorf("the app got %q as the hotel's answer", answer)
	}
	// What the app sent: one thread, one message, then it read the thread.
	srv.AssertCalled(t, "messageThreads/add", 1)
	srv.AssertCalled(t, "messages/add", 1)
	sent := srv.Requests(t, mewsreftest.Filter{Operations: []string{"messages/add"}})
	if body := *sent.Last().RequestBody; !strings.Contains(body, "Is breakfast included?") {
		t.Errorf("messages/add sent %s", body)
	}
}

func TestAssertCalledFailsWithWhatWasCalled(t *testing.T) {
	srv := mewsreftest.New(t)
	if _, err := srv.Client().AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"}); err != nil {
		t.Fatal(err)
	}
	srv.AssertCalled(t, "messageThreads/add", 1)
	fake := &fakeTB{}
	srv.AssertCalled(fake, "messages/add", 2)
	f := fake.failed()
	if len(f) != 1 || !strings.Contains(f[0], "messages/add was called 0 times, want 2") ||
		!strings.Contains(f[0], "POST messageThreads/add 200 by \"Are you ready to integrate with Mews?\"") {
		t.Errorf("failure message: %q", f)
	}
}

func TestRequestsFilterAndClear(t *testing.T) {
	srv := mewsreftest.New(t)
	mews := srv.Client(client.WithoutRetries())
	ctx := context.Background()
	th, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "A", Subject: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mews.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: uuid.New(), Text: "nowhere"}}); statusOf(err) != 400 {
		t.Fatalf("a message to an unknown thread: %v", err)
	}
	failed := srv.Requests(t, mewsreftest.Filter{Statuses: []int{400}, AccessToken: mewsreftest.Demo(1).AccessToken})
	if failed.Len() != 1 || failed.Last().Operation != "messages/add" || !strings.HasPrefix(*failed.Last().Message, "Invalid MessageThreadId") {
		t.Errorf("failed requests:\n%s", failed)
	}
	if got := srv.Requests(t, mewsreftest.Filter{MessageThreadIds: []uuid.UUID{th.Id}}); got.Len() != 1 || got.Last().Operation != "messageThreads/add" {
		t.Errorf("requests of the thread:\n%s", got)
	}
	for _, tc := range []struct {
		f    mewsreftest.Filter
		want int64
	}{
		{mewsreftest.Filter{}, 2},
		{mewsreftest.Filter{Operations: []string{"messages/add"}, Statuses: []int{400}}, 1},
		{mewsreftest.Filter{Operations: []string{"messages/add"}, Statuses: []int{200}}, 0},
		{mewsreftest.Filter{MessageThreadIds: []uuid.UUID{th.Id}}, 1},
	} {
		if got := srv.CountRequests(t, tc.f); got.Count != tc.want || got.Dropped != 0 {
			t.Errorf("CountRequests(%+v) = %+v, want Count %d, Dropped 0", tc.f, got, tc.want)
		}
	}
	srv.ClearRequests(t)
	srv.AssertCalled(t, "messages/add", 0)
	if got := srv.CountRequests(t, mewsreftest.Filter{}); got.Count != 0 {
		t.Errorf("CountRequests after ClearRequests: %+v", got)
	}
	if got := mewsreftest.New(t, mewsreftest.WithJournal(0)); got == nil {
		t.Fatal("no server without a journal")
	}
}

func TestEnterpriseResolvesAndReopens(t *testing.T) {
	srv := mewsreftest.New(t)
	th, err := srv.Client().AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Resolve(t, th.Id); !got.IsResolved || got.Id != th.Id {
		t.Errorf("Resolve: %+v", got)
	}
	if got := srv.Reopen(t, th.Id); got.IsResolved {
		t.Errorf("Reopen: %+v", got)
	}
	r1 := srv.Reply(t, th.Id, "one")
	r2 := srv.Reply(t, th.Id, "two")
	ms := srv.Messages(t, th.Id)
	if len(ms) != 2 || ms[0].Id != r2.Id || ms[1].Id != r1.Id {
		t.Errorf("Messages: %+v, want %s then %s", ms, r2.Id, r1.Id)
	}
	srv.Reset(t)
	if _, err := srv.Client().AddMessages(context.Background(), []gen.MessageParameters{{MessageThreadId: th.Id, Text: "x"}}); statusOf(err) != 400 {
		t.Errorf("after Reset, a message to the old thread: %v, want 400", err)
	}
}

func TestOptionsReachTheServer(t *testing.T) {
	t.Run("tokens", func(t *testing.T) {
		off := false
		enterprise := uuid.New()
		srv := mewsreftest.New(t, mewsreftest.WithTokens(&server.TokenConfig{DemoTokens: &off, Integrations: []server.IntegrationConfig{{
			Name: "Mine", ClientToken: "my-client-token-0123456789",
			AccessTokens: []server.AccessTokenConfig{{Token: "my-access-token-0123456789", EnterpriseIDs: []uuid.UUID{enterprise}}},
		}}}))
		if _, err := srv.Client().AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"}); statusOf(err) != 401 {
			t.Errorf("a demo token without the demo tokens: %v, want 401", err)
		}
		mine := srv.ClientFor(client.Credentials{ClientToken: "my-client-token-0123456789", AccessToken: "my-access-token-0123456789"})
		if _, err := mine.AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"}); err != nil {
			t.Errorf("the configured token: %v", err)
		}
	})
	t.Run("faults", func(t *testing.T) {
		f, err := server.ParseFaults("messageThreads/add:500=1")
		if err != nil {
			t.Fatal(err)
		}
		srv := mewsreftest.New(t, mewsreftest.WithFaults(f))
		_, err = srv.Client(client.WithoutRetries()).AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"})
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != 500 || !strings.HasPrefix(e.Message, "Injected fault") {
			t.Errorf("with 500=1: %v", err)
		}
	})
	t.Run("clock", func(t *testing.T) {
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		srv := mewsreftest.New(t, mewsreftest.WithNow(func() time.Time { return at }))
		th, err := srv.Client().AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"})
		if err != nil || !th.CreatedUtc.Equal(at) {
			t.Errorf("CreatedUtc %v, %v; want %v", th.CreatedUtc, err, at)
		}
	})
}

func TestDemoCredentials(t *testing.T) {
	demo := server.DemoIntegrations()
	for i := range demo {
		c, n := mewsreftest.Demo(i+1), mewsreftest.DemoNetPricing(i+1)
		if c.ClientToken != demo[i].ClientToken || c.AccessToken != demo[i].AccessTokens[0].Token || n.AccessToken != demo[i].AccessTokens[1].Token {
			t.Errorf("Demo(%d) = %+v, DemoNetPricing = %+v", i+1, c, n)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Demo(5) did not panic")
		}
	}()
	mewsreftest.Demo(5)
}

func TestReceiverNextFailsWithWhatArrived(t *testing.T) {
	srv := mewsreftest.New(t)
	hooks := srv.Webhooks(t)
	th, err := srv.Client().AddThread(context.Background(), client.AddThreadRequest{OriginalSender: "A", Subject: "B"})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Reply(t, th.Id, "hello")
	if got := hooks.Next(t, 10*time.Second); got.MessageId != m.Id {
		t.Fatalf("Next: %+v, want message %s", got, m.Id)
	}
	fake := &fakeTB{}
	hooks.Next(fake, time.Millisecond)
	if f := fake.failed(); len(f) != 1 || !strings.Contains(f[0], "no MessageAdded webhook") || !strings.Contains(f[0], m.Id.String()) {
		t.Errorf("failure of Next: %q", f)
	}
}

func statusOf(err error) int {
	var e *client.Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// Thread, Threads and Integrations are what the enterprise sees: any
// integration's threads of an enterprise, and every integration with its
// enterprises.
func TestEnterpriseSeesEveryIntegrationsThreads(t *testing.T) {
	srv := mewsreftest.New(t)
	ctx := context.Background()
	var ids []uuid.UUID
	for n := 1; n <= 2; n++ {
		th, err := srv.ClientFor(mewsreftest.Demo(n)).AddThread(ctx, client.AddThreadRequest{OriginalSender: "A", Subject: fmt.Sprint("of ", n)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, th.Id)
	}
	srv.Resolve(t, ids[0])
	if got := srv.Thread(t, ids[0]); got.Id != ids[0] || !got.IsResolved || got.IntegrationId != mewsreftest.IntegrationID(mewsreftest.Demo(1).ClientToken) {
		t.Errorf("Thread: %+v", got)
	}
	enterprise := srv.Thread(t, ids[1]).EnterpriseId
	got := srv.Threads(t, enterprise)
	if len(got) != 2 || got[0].Id != ids[1] || got[1].Id != ids[0] {
		t.Errorf("Threads of %s, newest first: %+v, want %v", enterprise, got, []uuid.UUID{ids[1], ids[0]})
	}
	ins := srv.Integrations(t)
	if len(ins) != 4 || ins[1].IntegrationId != mewsreftest.IntegrationID(mewsreftest.Demo(2).ClientToken) || len(ins[1].EnterpriseIds) != 2 || ins[1].EnterpriseIds[0] != enterprise {
		t.Errorf("Integrations: %+v", ins)
	}
}
