package mewsreftest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mewsreftest"
)

// FaultsAdd makes the next requests of an operation fail: here the next
// messageThreads/add is rate-limited, and the one after it is served.
func ExampleServer_FaultsAdd() {
	srv := mewsreftest.New(t)
	mews := srv.Client(client.WithoutRetries())
	ctx := context.Background()
	srv.FaultsAdd(t, admin.AdminFaultRuleParameters{Operation: "messageThreads/add",
		Status: mewsreftest.Status(429), RetryAfterSeconds: mewsreftest.Int(30)})

	for range 2 {
		_, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Hello"})
		var e *client.Error
		if errors.As(err, &e) {
			fmt.Println(e.StatusCode, e.RetryAfter)
		} else {
			fmt.Println(err)
		}
	}
	fmt.Println(srv.FaultsGetAll(t)[0].Remaining)
	// Output:
	// 429 30s
	// <nil>
	// 0
}

// WithClock freezes the server's clock; ClockAdvance makes time pass, for
// what the server stamps and for its rate limit and webhook retries.
func ExampleServer_ClockAdvance() {
	srv := mewsreftest.New(t, mewsreftest.WithClock(clock.Frozen(time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC))))
	mews := srv.Client()
	ctx := context.Background()

	first, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Arrival"})
	if err != nil {
		panic(err)
	}
	srv.ClockAdvance(t, 72*time.Hour) // three days later
	second, err := mews.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Departure"})
	if err != nil {
		panic(err)
	}
	fmt.Println(first.CreatedUtc.Format(time.RFC3339), second.CreatedUtc.Format(time.RFC3339))
	fmt.Println(srv.ClockGet(t).Mode)
	// Output:
	// 2027-01-15T09:00:00Z 2027-01-18T09:00:00Z
	// frozen
}
