package myapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/mewsreftest"
)

func TestWithMews(t *testing.T) {
	srv := mewsreftest.New(t) // in-process, in-memory, demo tokens; stopped when the test ends
	mews := srv.Client()      // the first demo integration; srv.ClientFor(credentials) for another
	hooks := srv.Webhooks(t)  // that integration's MessageAdded webhooks, received in the test

	// Your code under test would take srv.URL() and mewsreftest.Demo(1).
	ctx := context.Background()
	thread, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Late check-in"})
	if err != nil {
		t.Fatal(err)
	}
	reply := srv.Reply(t, thread.Id, "The night desk is open.") // the hotel answers
	if got := hooks.Next(t, 10*time.Second); got.MessageId != reply.Id {
		t.Errorf("webhook for %s, want the reply %s", got.MessageId, reply.Id)
	}
	srv.AssertCalled(t, "messageThreads/add", 1) // what the code under test sent, from the request journal
}
