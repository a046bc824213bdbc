package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
)

// This example is compiled but not run by go test (it has no Output
// comment), since it needs a server: start the reference server and point
// the base URL at it, or use the demo environment as here.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.New("https://api.mews-demo.com", client.Credentials{
		ClientToken: "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		AccessToken: "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
		Client:      "Example 1.0",
	})
	if err != nil {
		log.Fatal(err)
	}

	thread, err := c.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Breakfast"})
	if err != nil {
		log.Fatal(err)
	}
	label := "question-1"
	added, err := c.AddMessages(ctx, []gen.MessageParameters{
		{MessageThreadId: thread.Id, Text: "Is breakfast included?", Identifier: &label},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("added", *added[0].Identifier, added[0].Message.Id)

	// All messages of the thread, newest first, 50 per request.
	for msg, err := range c.AllMessages(ctx, client.MessagesQuery{
		MessageThreadIds: []uuid.UUID{thread.Id},
		Count:            50,
	}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(msg.CreatedUtc.Format(time.RFC3339), msg.Sender.Discriminator, msg.Text)
	}
}

// Errors answered by the API are *client.Error values.
func ExampleError() {
	c, err := client.New("http://127.0.0.1:8080", client.Credentials{
		ClientToken: "token", AccessToken: "token", Client: "Example 1.0",
	}, client.WithRetry(client.RetryPolicy{MaxAttempts: 2}))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetThreads(context.Background(), client.ThreadsQuery{Count: 5000})

	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
		fmt.Println("rate limited; try again in", apiErr.RetryAfter)
	case errors.As(err, &apiErr):
		fmt.Printf("refused with %d: %s (request %s)\n", apiErr.StatusCode, apiErr.Message, apiErr.RequestId)
	case err != nil:
		fmt.Println("no answer:", err)
	}
}
