package mewsreftest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/mewsreftest"
)

// A test starts a server, drives it with the Go client as an integration
// would, and plays the hotel with Reply.
func Example() {
	srv := mewsreftest.New(t) // t is the test's *testing.T
	mews := srv.Client()      // the first demo integration
	ctx := context.Background()

	thread, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Late check-in"})
	if err != nil {
		panic(err) // in a test: t.Fatal(err)
	}
	srv.Reply(t, thread.Id, "The night desk is open.")

	page, err := mews.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: []uuid.UUID{thread.Id}, Count: 10})
	if err != nil {
		panic(err)
	}
	m := page.Messages[0]
	fmt.Println(m.Sender.Discriminator, m.Text)
	// Output: Enterprise The night desk is open.
}

// Webhooks receives the MessageAdded webhooks of an integration; Next
// waits for the next one.
func ExampleServer_Webhooks() {
	srv := mewsreftest.New(t)
	hooks := srv.Webhooks(t)
	mews := srv.Client()
	ctx := context.Background()

	thread, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Parking"})
	if err != nil {
		panic(err)
	}
	reply := srv.Reply(t, thread.Id, "Yes, in the courtyard.")

	event := hooks.Next(t, 10*time.Second)
	fmt.Println(event.MessageId == reply.Id, event.EnterpriseId == mewsreftest.DemoEnterprise)
	// Output: true true
}

// Options reach what the binary's flags reach, here the rate limit of the
// real API: the third request within the window is refused.
func ExampleWithRateLimit() {
	srv := mewsreftest.New(t, mewsreftest.WithRateLimit(2, time.Minute))
	mews := srv.Client(client.WithoutRetries())
	ctx := context.Background()

	for range 3 {
		_, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Hello"})
		var e *client.Error
		if errors.As(err, &e) {
			fmt.Println(e.StatusCode, e.RetryAfter > 0)
		} else {
			fmt.Println(err)
		}
	}
	// Output:
	// <nil>
	// <nil>
	// 429 true
}

// The request journal tells what the code under test sent and what it was
// answered; AssertCalled fails a test with the requests made instead.
func ExampleServer_AssertCalled() {
	srv := mewsreftest.New(t)
	mews := srv.Client(client.WithoutRetries())
	ctx := context.Background()

	thread, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Towels"})
	if err != nil {
		panic(err)
	}
	_, err = mews.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: thread.Id, Text: ""}})
	fmt.Println(err != nil)

	srv.AssertCalled(t, "messages/add", 1)
	last := srv.Requests(t, mewsreftest.Filter{Operations: []string{"messages/add"}}).Last()
	fmt.Println(last.Status, *last.Message)
	// Output:
	// true
	// 400 Messages[0].Text must not be empty.
}
