package postgres_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
)

// The server on PostgreSQL, driven by the Go client, every response
// validated against the spec: the flows of the client's contract tests on
// this engine.

var (
	grossCreds = client.Credentials{ // integration 1, gross-pricing enterprise
		ClientToken: "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		AccessToken: "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
		Client:      "postgres-contract 1.0",
	}
	netCreds = client.Credentials{ // integration 1, net-pricing enterprise
		ClientToken: grossCreds.ClientToken,
		AccessToken: "4D6C7ABE0E6A4681B0AFB16900AE5D86-DF50CBC89E1D4FF5859DDF021649ED5",
		Client:      grossCreds.Client,
	}
	otherCreds = client.Credentials{ // integration 2
		ClientToken: "E916C341431C4D28A866AD200152DBD3-A046EB5583FFBE94DE1172237763712",
		AccessToken: "CC150C355D6A4048A220AD20015483AB-B6D09C0C84B09538077CB8FFBB907B4",
		Client:      grossCreds.Client,
	}
)

// newServer starts the server on a fresh schema and returns a client
// factory for it.
func newServer(t *testing.T) func(client.Credentials) *client.Client {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h, closeServer, err := server.New(server.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeServer() })
	url := apitest.Server(t, h).URL
	return func(creds client.Credentials) *client.Client {
		c, err := client.New(url, creds, client.WithoutRetries())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// around is an interval that holds every thread the test creates.
func around() *gen.TimeInterval {
	now := time.Now().UTC()
	return &gen.TimeInterval{StartUtc: now.Add(-24 * time.Hour), EndUtc: now.Add(24 * time.Hour)}
}

// wantAPIError checks that err is a *client.Error with status and message.
func wantAPIError(t *testing.T, err error, status int, message string) {
	t.Helper()
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want a *client.Error", err)
	}
	if apiErr.StatusCode != status || apiErr.Message != message {
		t.Errorf("got %d %q, want %d %q", apiErr.StatusCode, apiErr.Message, status, message)
	}
}

func TestContractOnPostgres(t *testing.T) {
	ctx := context.Background()
	clientFor := newServer(t)
	app, appNet, intruder := clientFor(grossCreds), clientFor(netCreds), clientFor(otherCreds)

	// Threads, most in the same second: the order rests on seq.
	var threads []uuid.UUID // newest first
	for range 23 {
		th, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Stay"})
		if err != nil {
			t.Fatal(err)
		}
		if th.IsResolved || !th.CreatedUtc.Equal(th.UpdatedUtc) {
			t.Errorf("new thread: %+v", th)
		}
		threads = append([]uuid.UUID{th.Id}, threads...)
	}
	for _, c := range []*client.Client{appNet, intruder} {
		if _, err := c.AddThread(ctx, client.AddThreadRequest{OriginalSender: "x", Subject: "not yours"}); err != nil {
			t.Fatal(err)
		}
	}
	var walked []uuid.UUID
	for th, err := range app.AllThreads(ctx, client.ThreadsQuery{CreatedUtc: around(), Count: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, th.Id)
	}
	if !slices.Equal(walked, threads) {
		t.Errorf("walked %d threads, want each of %d once, newest first:\n got  %v\n want %v", len(walked), len(threads), walked, threads)
	}

	// Messages: a batch over two threads, in request order, echoing
	// Identifier; a text that PostgreSQL's text type could not hold.
	label := "q1"
	added, err := app.AddMessages(ctx, []gen.MessageParameters{
		{MessageThreadId: threads[0], Text: "Is breakfast included?", Identifier: &label},
		{MessageThreadId: threads[1], Text: "nul \x00 inside"},
		{MessageThreadId: threads[0], Text: "And parking?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 3 || added[0].Identifier == nil || *added[0].Identifier != label || added[1].Identifier != nil {
		t.Fatalf("added: %+v", added)
	}
	page, err := app.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: threads[:2], Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].Text != "And parking?" || page.Messages[1].Text != "nul \x00 inside" ||
		page.Cursor == nil || *page.Cursor != page.Messages[1].Id {
		t.Fatalf("first page of messages: %+v", page)
	}
	page, err = app.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: threads[:2], Count: 2, Cursor: page.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || page.Messages[0].Id != added[0].Message.Id {
		t.Fatalf("second page of messages: %+v", page)
	}
	got, err := app.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: threads[:1], Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Threads) != 1 || !got.Threads[0].UpdatedUtc.Equal(added[2].Message.CreatedUtc) {
		t.Errorf("thread after messages: %+v, want UpdatedUtc %v", got.Threads, added[2].Message.CreatedUtc)
	}

	// Tenancy: another integration, or another enterprise of the same one,
	// sees nothing and adds nothing.
	for name, c := range map[string]*client.Client{"other integration": intruder, "other enterprise": appNet} {
		page, err := c.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: threads, Count: 100})
		if err != nil || len(page.Threads) != 0 {
			t.Errorf("%s sees the threads: %v %+v", name, err, page)
		}
		_, err = c.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: threads[0], Text: "intrusion"}})
		wantAPIError(t, err, http.StatusBadRequest,
			"Invalid MessageThreadId: "+threads[0].String()+" is not a message thread of this client.")
	}

	// Unknown cursors, in the SQLite engine's words.
	unknown := uuid.New()
	_, err = app.GetThreads(ctx, client.ThreadsQuery{CreatedUtc: around(), Count: 1, Cursor: &unknown})
	wantAPIError(t, err, http.StatusBadRequest,
		"Invalid Limitation.Cursor: "+unknown.String()+" is not the Id of a message thread of this client.")
	_, err = app.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: threads[:1], Count: 1, Cursor: &unknown})
	wantAPIError(t, err, http.StatusBadRequest,
		"Invalid Limitation.Cursor: "+unknown.String()+" is not the Id of a message of this client.")
}
