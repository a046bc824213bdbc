package mewsreftest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

// The enterprise's side of a conversation, through the admin API, as a
// hotel's employees would act in Mews. Each method fails the test if the
// server refuses (an unknown thread, say), with the server's message.

// Reply adds a message from the enterprise (Sender Enterprise) to a thread
// and returns it; it moves the thread's UpdatedUtc and queues MessageAdded
// webhooks like any message.
func (s *Server) Reply(tb testing.TB, thread uuid.UUID, text string) admin.Message {
	tb.Helper()
	res, err := s.admin.AdminMessagesAddWithResponse(context.Background(),
		admin.AdminMessageAddParameters{MessageThreadId: thread, Text: text})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "messages/add", err)
	return res.JSON200.Message
}

// Resolve marks a thread resolved (IsResolved) and returns it.
func (s *Server) Resolve(tb testing.TB, thread uuid.UUID) admin.MessageThread {
	tb.Helper()
	return s.setResolved(tb, thread, true)
}

// Reopen marks a resolved thread open again and returns it.
func (s *Server) Reopen(tb testing.TB, thread uuid.UUID) admin.MessageThread {
	tb.Helper()
	return s.setResolved(tb, thread, false)
}

func (s *Server) setResolved(tb testing.TB, thread uuid.UUID, resolved bool) admin.MessageThread {
	tb.Helper()
	res, err := s.admin.AdminMessageThreadsResolveWithResponse(context.Background(),
		admin.AdminResolveParameters{MessageThreadId: thread, IsResolved: resolved})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "messageThreads/resolve", err)
	return res.JSON200.MessageThread
}

// Messages returns every message of a thread, of both senders, newest
// first.
func (s *Server) Messages(tb testing.TB, thread uuid.UUID) []admin.Message {
	tb.Helper()
	return allPages(tb, "messages/getAll", func(cursor *uuid.UUID) ([]admin.Message, *uuid.UUID, error) {
		res, err := s.admin.AdminMessagesGetAllWithResponse(context.Background(), admin.AdminMessagesParameters{
			MessageThreadId: thread, Limitation: admin.Limitation{Count: 1000, Cursor: cursor}})
		if err == nil {
			err = answer(res.StatusCode(), res.Body)
		}
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.Messages, res.JSON200.Cursor, nil
	})
}

// Thread returns any thread, of any integration, by its Id
// (messageThreads/get): what the enterprise sees of it, IsResolved and
// UpdatedUtc included.
func (s *Server) Thread(tb testing.TB, thread uuid.UUID) admin.MessageThread {
	tb.Helper()
	res, err := s.admin.AdminMessageThreadsGetWithResponse(context.Background(), admin.AdminThreadParameters{MessageThreadId: thread})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "messageThreads/get", err)
	return res.JSON200.MessageThread
}

// Threads returns every thread of an enterprise, of every integration,
// newest first (messageThreads/getAll).
func (s *Server) Threads(tb testing.TB, enterprise uuid.UUID) []admin.MessageThread {
	tb.Helper()
	return allPages(tb, "messageThreads/getAll", func(cursor *uuid.UUID) ([]admin.MessageThread, *uuid.UUID, error) {
		res, err := s.admin.AdminMessageThreadsGetAllWithResponse(context.Background(), admin.AdminThreadsParameters{
			EnterpriseId: enterprise, Limitation: admin.Limitation{Count: 1000, Cursor: cursor}})
		if err == nil {
			err = answer(res.StatusCode(), res.Body)
		}
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.MessageThreads, res.JSON200.Cursor, nil
	})
}

// Integrations returns every integration that the server knows (the demo
// tokens, WithTokens) with the enterprises of its access tokens
// (integrations/getAll); never the tokens.
func (s *Server) Integrations(tb testing.TB) []admin.AdminIntegration {
	tb.Helper()
	res, err := s.admin.AdminIntegrationsGetAllWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "integrations/getAll", err)
	return res.JSON200.Integrations
}

// Reset deletes every thread, message and webhook delivery; the webhook
// URLs stay.
func (s *Server) Reset(tb testing.TB) {
	tb.Helper()
	res, err := s.admin.AdminResetWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "reset", err)
}

// allPages returns the items of every page of an admin getAll, newest
// first: page answers the page after cursor (nil: the first) and its
// Cursor. It fails the test if a page does.
func allPages[T any](tb testing.TB, op string, page func(cursor *uuid.UUID) ([]T, *uuid.UUID, error)) []T {
	tb.Helper()
	var all []T
	var cursor *uuid.UUID
	for {
		items, next, err := page(cursor)
		check(tb, op, err)
		if len(items) == 0 {
			return all
		}
		all = append(all, items...)
		cursor = next
	}
}

// answer is the error of an admin response that is not 200.
func answer(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %s", status, bytes.TrimSpace(body))
	}
	return nil
}

// check fails the test if the admin operation op failed.
func check(tb testing.TB, op string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("mewsreftest: admin %s: %v", op, err)
	}
}
