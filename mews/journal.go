package mews

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Request is one entry of the request journal: a request to the Connector
// API and the answer, as the server recorded it. Tokens are masked before
// an entry reaches a store; AccessTokenHash lets a filter match the full
// access token without keeping it.
type Request struct {
	ID              uuid.UUID // the Request-Id of the answer
	CreatedUTC      time.Time // when it was received, in the server's clock
	Method          string
	Operation       string      // "messages/add", or the path if it is none
	IntegrationID   uuid.UUID   // uuid.Nil: not authenticated
	IntegrationName string      // "" when IntegrationID is Nil
	EnterpriseIDs   []uuid.UUID // the enterprises it acted in
	AccessToken     string      // masked; "" if none was sent
	AccessTokenHash []byte      // SHA-256 of the full access token; nil if none
	Status          int
	Duration        time.Duration
	RequestBody     *string // masked; nil: not read
	ResponseBody    *string // masked; nil: none
	Truncated       bool    // a body, Operation or Message was cut at the journal's limit
	Message         string  // the Message of the error answered, if any
	ThreadIDs       []uuid.UUID
}

// RequestFilter selects entries; the filters combine with AND, and each
// list matches any of its items. Nil or empty fields match everything.
type RequestFilter struct {
	Operations      []string
	IntegrationIDs  []uuid.UUID
	AccessTokenHash []byte
	Statuses        []int
	Created         *Interval
	IDs             []uuid.UUID
	ThreadIDs       []uuid.UUID
}

// Journal is the storage contract of the request journal: diagnostic data,
// written in batches by one recorder per process, never on the path of an
// API request, and not kept with the durability promise of Store. Its order
// is that of pages: (CreatedUTC, order of recording), newest first.
type Journal interface {
	// RequestsAdd records entries, then keeps only the newest keep entries
	// of the whole journal (of every process that shares it). It keeps
	// none of the entries' strings once it returns: their bytes may be
	// the recorder's buffers, used again for the next entries.
	RequestsAdd(ctx context.Context, entries []Request, keep int) error
	// RequestsGetAll returns at most p.Count entries that match f, newest
	// first, older than the entry p.Cursor if set; a cursor that is not
	// an entry of the journal is EINVALID.
	RequestsGetAll(ctx context.Context, f RequestFilter, p Page) ([]Request, error)
	// RequestsCount counts the entries that match f.
	RequestsCount(ctx context.Context, f RequestFilter) (int64, error)
	// RequestsClear deletes every entry.
	RequestsClear(ctx context.Context) error
}
