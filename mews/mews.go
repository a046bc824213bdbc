// Package mews holds the domain of the messaging operations: message threads,
// messages, who may see them, the storage contract that every engine
// implements, and the error type that the server maps to HTTP in one place.
//
// It depends on nothing but the standard library and uuid, so that the
// server, the storage engines and their shared test suite can all import it.
package mews

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Thread is a message thread: a conversation that an integration opened on
// behalf of a customer (OriginalSender) in one enterprise.
type Thread struct {
	ID             uuid.UUID
	IntegrationID  uuid.UUID // the integration that created it; only it can see it
	EnterpriseID   uuid.UUID
	OriginalSender string
	Subject        string
	CreatedUTC     time.Time
	UpdatedUTC     time.Time // CreatedUTC, or the CreatedUTC of its newest message
	IsResolved     bool
}

// Sender says who wrote a message.
type Sender string

const (
	// SenderApplication: added through the API by the integration.
	SenderApplication Sender = "Application"
	// SenderEnterprise: written by an employee of the enterprise.
	SenderEnterprise Sender = "Enterprise"
)

// Message is one message of a thread.
type Message struct {
	ID         uuid.UUID
	ThreadID   uuid.UUID
	Text       string
	Sender     Sender
	CreatedUTC time.Time
}

// Scope is what a caller may see and change: the threads created by one
// integration in a set of enterprises (one for an ordinary access token,
// several for a portfolio access token, possibly narrowed by EnterpriseIds).
type Scope struct {
	IntegrationID uuid.UUID
	EnterpriseIDs []uuid.UUID // never empty
}

// Interval is a closed interval of instants, to the nanosecond: both ends
// are included. A store selects the instants it keeps that lie within it
// (see UnixMicros); how a request's bounds become an Interval is the
// server's rule.
type Interval struct {
	Start, End time.Time
}

// Page selects items newest first. Cursor, when set, is the ID of an item of
// the caller's scope: the page holds the items strictly older than it.
type Page struct {
	Cursor *uuid.UUID
	Count  int
}

// ThreadFilter selects threads; the filters combine with AND.
type ThreadFilter struct {
	Scope   Scope
	IDs     []uuid.UUID // nil: any
	Created *Interval   // nil: any
	Updated *Interval   // nil: any
	Page    Page
}

// MessageFilter selects messages of threads in the caller's scope; the other
// identifiers in ThreadIDs match nothing.
type MessageFilter struct {
	Scope     Scope
	ThreadIDs []uuid.UUID // never empty
	Created   *Interval   // nil: any
	Page      Page
}

// Store is the storage contract. Each method is named after the operation it
// serves. Engines must make every successful write durable before returning,
// keep instants to Resolution (see Instant) and return them in UTC, order
// pages by (CreatedUTC, insertion order) newest first, and answer page
// queries from an index, without OFFSET.
type Store interface {
	// MessageThreadsAdd stores a new thread.
	MessageThreadsAdd(ctx context.Context, t Thread) error
	// MessageThreadsGetAll returns at most f.Page.Count threads, newest
	// first. An unknown cursor (not a thread of f.Scope) is an EINVALID error.
	MessageThreadsGetAll(ctx context.Context, f ThreadFilter) ([]Thread, error)
	// MessagesAdd stores all the messages or none. Every message's thread
	// must be in scope (else EINVALID naming the thread); each thread's
	// UpdatedUTC becomes the CreatedUTC of its newest message.
	MessagesAdd(ctx context.Context, scope Scope, msgs []Message) error
	// MessagesGetAll returns at most f.Page.Count messages, newest first. An
	// unknown cursor (not a message of a thread in f.Scope) is EINVALID.
	MessagesGetAll(ctx context.Context, f MessageFilter) ([]Message, error)
	// Close releases the engine's resources.
	Close() error
}
