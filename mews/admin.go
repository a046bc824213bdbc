package mews

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Admin is the storage contract of the enterprise side and of webhook
// deliveries: what the admin API and the webhook dispatcher need beyond
// Store. It is a second interface so that Store stays the contract of the
// four Connector API operations; both engines implement both.
//
// Messages written by the enterprise go through Store.MessagesAdd with
// Sender Enterprise and the scope of the thread's owner (see ThreadGet),
// so that they move UpdatedUTC and queue webhooks exactly like any message.
type Admin interface {
	// ThreadGet returns the thread id of any integration; ENOTFOUND if
	// there is none.
	ThreadGet(ctx context.Context, id uuid.UUID) (Thread, error)
	// ThreadSetResolved sets IsResolved of thread id and returns the thread;
	// ENOTFOUND if there is none. UpdatedUTC does not change: it follows
	// messages only.
	ThreadSetResolved(ctx context.Context, id uuid.UUID, resolved bool) (Thread, error)
	// EnterpriseThreads returns a page of the threads of enterprise, of
	// every integration, newest first. A cursor that is not a thread of the
	// enterprise is EINVALID.
	EnterpriseThreads(ctx context.Context, enterprise uuid.UUID, p Page) ([]Thread, error)
	// ThreadsSearch returns a page of the threads of q.EnterpriseID that
	// match q, latest activity first: by UpdatedUTC, then insertion order,
	// newest first, each with its newest message. A cursor that is not a
	// thread of the enterprise is EINVALID. It may read every thread of the
	// enterprise: an inbox, not a hot path.
	ThreadsSearch(ctx context.Context, q ThreadSearch) ([]ThreadSummary, error)
	// Reset deletes every thread, message and delivery; webhook URLs stay.
	Reset(ctx context.Context) error

	// WebhooksSet replaces the webhook URLs of an integration.
	WebhooksSet(ctx context.Context, integration uuid.UUID, urls []string) error
	// Webhooks returns the webhook URLs of every integration that has any.
	Webhooks(ctx context.Context) (map[uuid.UUID][]string, error)
	// DeliveriesClaim hands out at most n pending deliveries due at now,
	// oldest due first, and makes them not due again until now+lease, so
	// that no other dispatcher (of this or another process) takes them
	// meanwhile; one whose dispatcher dies is taken again after the lease.
	DeliveriesClaim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]Delivery, error)
	// DeliveryRecord records the outcome of one attempt.
	DeliveryRecord(ctx context.Context, o DeliveryOutcome) error
	// Deliveries returns the newest n deliveries, of one integration if
	// integration is not nil.
	Deliveries(ctx context.Context, integration *uuid.UUID, n int) ([]Delivery, error)

	// DeliveryRedeliver queues a new delivery of the payload of delivery
	// id, to url (empty: the same URL), created and due at now, and returns
	// it; ENOTFOUND if there is no delivery id.
	DeliveryRedeliver(ctx context.Context, id int64, url string, now time.Time) (Delivery, error)
	// DeliveryDefer makes a claimed delivery due at at, without counting an
	// attempt: how the dispatcher holds a delivery back.
	DeliveryDefer(ctx context.Context, id int64, at time.Time) error

	Data
}

// ThreadSearch selects threads of one enterprise; the filters combine with
// AND.
type ThreadSearch struct {
	EnterpriseID  uuid.UUID
	IntegrationID *uuid.UUID // nil: every integration
	// Text, when not empty, matches a part of the subject, the original
	// sender or any message's text; ASCII letters match either case.
	Text       string
	IsResolved *bool // nil: both
	// Page.Cursor is the last thread of the previous page.
	Page Page
}

// ThreadSummary is a thread as an inbox lists it.
type ThreadSummary struct {
	Thread      Thread
	LastMessage *Message // nil: the thread has no message
}

// LowerASCII lowers the ASCII letters of s and leaves every other byte as
// it is: the case folding of ThreadSearch.Text on both engines (SQLite's
// lower() folds ASCII only).
func LowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// DeliveryStatus is where a webhook delivery stands.
type DeliveryStatus string

// The statuses of a delivery.
const (
	DeliveryPending   DeliveryStatus = "Pending"   // not yet answered 2xx; attempts remain
	DeliveryDelivered DeliveryStatus = "Delivered" // answered 2xx
	DeliveryFailed    DeliveryStatus = "Failed"    // every attempt failed
)

// Delivery is one webhook to send to one URL: a row of the outbox, written in
// the transaction that adds the messages it announces.
type Delivery struct {
	ID             int64
	IntegrationID  uuid.UUID
	URL            string
	Payload        []byte // the JSON body, see WebhookPayload
	Status         DeliveryStatus
	Attempts       int
	CreatedUTC     time.Time
	NextAttemptUTC time.Time // zero once Delivered or Failed
	LastAttemptUTC time.Time // zero before the first attempt
	LastStatusCode int       // 0: no answer (yet)
	LastError      string
}

// DeliveryOutcome is the result of one attempt to send a delivery.
type DeliveryOutcome struct {
	ID         int64
	At         time.Time
	Status     DeliveryStatus // Pending: retry at NextAttempt
	StatusCode int            // 0: no answer
	Error      string
	// NextAttempt is when a Pending delivery is due again.
	NextAttempt time.Time
}

// WebhookPayload is the body of the General Webhook that announces messages
// added to threads of one enterprise and integration: one MessageAdded
// event per message, in the order given.
func WebhookPayload(enterprise, integration uuid.UUID, messages []uuid.UUID) []byte {
	type value struct {
		ID uuid.UUID `json:"Id"`
	}
	type event struct {
		Discriminator string `json:"Discriminator"`
		Value         value  `json:"Value"`
	}
	body := struct {
		EnterpriseID  uuid.UUID `json:"EnterpriseId"`
		IntegrationID uuid.UUID `json:"IntegrationId"`
		Events        []event   `json:"Events"`
	}{EnterpriseID: enterprise, IntegrationID: integration, Events: make([]event, len(messages))}
	for i, id := range messages {
		body.Events[i] = event{Discriminator: "MessageAdded", Value: value{ID: id}}
	}
	b, err := json.Marshal(body)
	if err != nil { // uuids and strings always marshal
		panic(err)
	}
	return b
}

// WebhookGroups groups the messages added to threads (thread: enterprise)
// by enterprise, in order of first mention: one webhook per group.
func WebhookGroups(msgs []Message, enterpriseOf map[uuid.UUID]uuid.UUID) (enterprises []uuid.UUID, ids map[uuid.UUID][]uuid.UUID) {
	ids = make(map[uuid.UUID][]uuid.UUID)
	for _, m := range msgs {
		e := enterpriseOf[m.ThreadID]
		if _, ok := ids[e]; !ok {
			enterprises = append(enterprises, e)
		}
		ids[e] = append(ids[e], m.ID)
	}
	return enterprises, ids
}
