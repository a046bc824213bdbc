package server

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/mews"
)

var _ gen.StrictServerInterface = (*Server)(nil)

// authenticate resolves the request's tokens, notes the caller, masked, for
// the access log, and admits the request to operation op (rate limit,
// injected faults).
func (s *Server) authenticate(ctx context.Context, op, clientToken, accessToken string) (*Access, error) {
	info := requestInfoFrom(ctx)
	info.clientToken, info.rawAccessToken = clientToken, accessToken
	tok, err := s.tokens.authenticate(clientToken, accessToken)
	if err != nil {
		info.accessToken = MaskToken(accessToken)
		info.integration = "unknown (ClientToken " + MaskToken(clientToken) + ")"
		return nil, err
	}
	acc := &tok.access
	info.accessToken = tok.masked // the same, masked once at configuration
	info.integration = acc.IntegrationName
	info.integrationID, info.enterprises = acc.IntegrationID, acc.EnterpriseIDs
	info.accessDigest = &tok.digest
	if err := s.admit(ctx, op, tok.digest); err != nil {
		return nil, err
	}
	return acc, nil
}

// scope authenticates a getAll request and returns what it may see: the
// token's enterprises, narrowed to enterprises when given.
func (s *Server) scope(ctx context.Context, op, clientToken, accessToken string, enterprises *[]uuid.UUID) (mews.Scope, error) {
	acc, err := s.authenticate(ctx, op, clientToken, accessToken)
	if err != nil {
		return mews.Scope{}, err
	}
	sc, err := acc.Scope(enterprises)
	if err == nil {
		requestInfoFrom(ctx).enterprises = sc.EnterpriseIDs
	}
	return sc, err
}

// noteThreads tells the request journal which threads a request names;
// without a journal nobody asks.
func (s *Server) noteThreads(ctx context.Context, ids ...uuid.UUID) {
	if s.journal == nil {
		return
	}
	info := requestInfoFrom(ctx)
	info.threads = append(info.threads, ids...)
}

// MessageThreadsGetAll serves POST /api/connector/v1/messageThreads/getAll.
func (s *Server) MessageThreadsGetAll(ctx context.Context, req gen.MessageThreadsGetAllRequestObject) (gen.MessageThreadsGetAllResponseObject, error) {
	b := req.Body
	if b.MessageThreadIds != nil {
		s.noteThreads(ctx, *b.MessageThreadIds...)
	}
	scope, err := s.scope(ctx, opThreadsGetAll, b.ClientToken, b.AccessToken, b.EnterpriseIds)
	if err != nil {
		return nil, err
	}
	if b.MessageThreadIds == nil && b.CreatedUtc == nil && b.UpdatedUtc == nil {
		return nil, mews.Errorf(mews.EINVALID, "At least one of MessageThreadIds, CreatedUtc, UpdatedUtc is required.")
	}
	created, err := interval("CreatedUtc", b.CreatedUtc, threadIntervalMonths)
	if err != nil {
		return nil, err
	}
	updated, err := interval("UpdatedUtc", b.UpdatedUtc, threadIntervalMonths)
	if err != nil {
		return nil, err
	}
	threads, err := s.store.MessageThreadsGetAll(ctx, mews.ThreadFilter{
		Scope: scope, IDs: ids(b.MessageThreadIds), Created: created, Updated: updated, Page: page(b.Limitation),
	})
	if err != nil {
		return nil, err
	}
	rid := RequestID(ctx)
	if len(threads) == 0 && preferMinimal(req.Params.Prefer) {
		return gen.MessageThreadsGetAll204Response{Headers: gen.EmptyPageResponseHeaders{RequestId: rid}}, nil
	}
	return threadsPage{requestID: rid, threads: threads}, nil
}

// MessageThreadsAdd serves POST /api/connector/v1/messageThreads/add.
func (s *Server) MessageThreadsAdd(ctx context.Context, req gen.MessageThreadsAddRequestObject) (gen.MessageThreadsAddResponseObject, error) {
	b := req.Body
	acc, err := s.authenticate(ctx, opThreadsAdd, b.ClientToken, b.AccessToken)
	if err != nil {
		return nil, err
	}
	if len(acc.EnterpriseIDs) != 1 {
		return nil, mews.Errorf(mews.EUNAUTHORIZED,
			"messageThreads/add does not support portfolio access tokens; use the access token of one enterprise.")
	}
	now := s.now()
	t := mews.Thread{
		ID:             s.newID(),
		IntegrationID:  acc.IntegrationID,
		EnterpriseID:   acc.EnterpriseIDs[0],
		OriginalSender: b.OriginalSender,
		Subject:        b.Subject,
		CreatedUTC:     now,
		UpdatedUTC:     now,
	}
	if err := s.store.MessageThreadsAdd(ctx, t); err != nil {
		return nil, err
	}
	s.changes.changed()
	s.noteThreads(ctx, t.ID)
	return threadAdded{requestID: RequestID(ctx), thread: t}, nil // pages.go
}

// MessagesGetAll serves POST /api/connector/v1/messages/getAll.
func (s *Server) MessagesGetAll(ctx context.Context, req gen.MessagesGetAllRequestObject) (gen.MessagesGetAllResponseObject, error) {
	b := req.Body
	s.noteThreads(ctx, b.MessageThreadIds...)
	scope, err := s.scope(ctx, opMessagesGetAll, b.ClientToken, b.AccessToken, b.EnterpriseIds)
	if err != nil {
		return nil, err
	}
	created, err := interval("CreatedUtc", b.CreatedUtc, messageIntervalMonths)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.MessagesGetAll(ctx, mews.MessageFilter{
		Scope: scope, ThreadIDs: b.MessageThreadIds, Created: created, Page: page(b.Limitation),
	})
	if err != nil {
		return nil, err
	}
	rid := RequestID(ctx)
	if len(msgs) == 0 && preferMinimal(req.Params.Prefer) {
		return gen.MessagesGetAll204Response{Headers: gen.EmptyPageResponseHeaders{RequestId: rid}}, nil
	}
	return messagesPage{requestID: rid, messages: msgs}, nil
}

// MessagesAdd serves POST /api/connector/v1/messages/add.
func (s *Server) MessagesAdd(ctx context.Context, req gen.MessagesAddRequestObject) (gen.MessagesAddResponseObject, error) {
	b := req.Body
	if s.journal != nil {
		threads := make([]uuid.UUID, len(b.Messages))
		for i, m := range b.Messages {
			threads[i] = m.MessageThreadId
		}
		s.noteThreads(ctx, threads...)
	}
	scope, err := s.scope(ctx, opMessagesAdd, b.ClientToken, b.AccessToken, nil)
	if err != nil {
		return nil, err
	}
	now := s.now()
	msgs := make([]mews.Message, len(b.Messages))
	for i, item := range b.Messages {
		msgs[i] = mews.Message{
			ID: s.newID(), ThreadID: item.MessageThreadId, Text: item.Text,
			Sender: mews.SenderApplication, CreatedUTC: now,
		}
	}
	if err := s.addMessages(ctx, scope, msgs); err != nil {
		return nil, err
	}
	identifiers := make([]*string, len(msgs))
	for i := range msgs {
		identifiers[i] = b.Messages[i].Identifier
	}
	return messagesAdded{requestID: RequestID(ctx), messages: msgs, identifiers: identifiers}, nil // pages.go
}

// addMessages stores msgs, whoever wrote them, and wakes the webhook
// dispatcher: the store queued their deliveries in the same transaction,
// and sending them is not the request's work.
func (s *Server) addMessages(ctx context.Context, scope mews.Scope, msgs []mews.Message) error {
	if err := s.store.MessagesAdd(ctx, scope, msgs); err != nil {
		return err
	}
	s.webhooks.wake()
	s.changes.changed()
	return nil
}

// newID returns the id of a new thread or message: a version 7 UUID, which
// is ordered by time, so the unique indexes of ids grow at their end instead
// of at random places; to clients it is an opaque UUID like any other. The
// layout is uuid.NewV7's (milliseconds since 1970, then the fraction of the
// millisecond in 12 bits, one more than the last id's when the clock has
// not moved on, then 62 random bits), but the random bits come from
// math/rand/v2 (ChaCha8, seeded by the system, no system call, as
// newRequestID) rather than crypto/rand through an io.Reader: an id must be
// unique, not secret (every read checks the caller's scope), and NewV7 was
// ~1k instructions, a mutex and an allocation per id (ten per messages/add).
func (s *Server) newID() uuid.UUID {
	ns := time.Now().UnixNano()
	ms := ns / 1e6
	t := ms<<12 | (ns-ms*1e6)>>8 // (ns-ms*1e6)>>8 < 3907: 12 bits
	for {
		last := s.lastID.Load()
		next := max(t, last+1)
		if s.lastID.CompareAndSwap(last, next) {
			t = next
			break
		}
	}
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[:8], uint64(t>>12)<<16|0x7000|uint64(t&0xfff))
	binary.LittleEndian.PutUint64(id[8:], rand.Uint64())
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id
}
