package sqlite

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

func testThread(scope mews.Scope) mews.Thread {
	at := time.Unix(1e9, 0).UTC()
	return mews.Thread{
		ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
		OriginalSender: "Guest", Subject: "Stay", CreatedUTC: at, UpdatedUTC: at,
	}
}

func testScope() mews.Scope {
	return mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
}

// wantMessage checks that err is an EINVALID *mews.Error with message msg.
func wantMessage(t *testing.T, err error, msg string) {
	t.Helper()
	var me *mews.Error
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want a *mews.Error", err)
	}
	if me.Code != mews.EINVALID || me.Message != msg {
		t.Errorf("got %s %q, want %s %q", me.Code, me.Message, mews.EINVALID, msg)
	}
}

func TestErrorMessages(t *testing.T) {
	db := openClosed(t, Memory)
	ctx := t.Context()
	scope := testScope()
	unknown := uuid.New()

	_, err := db.MessageThreadsGetAll(ctx, mews.ThreadFilter{Scope: scope, Page: mews.Page{Cursor: &unknown, Count: 1}})
	wantMessage(t, err, "Invalid Limitation.Cursor: "+unknown.String()+" is not the Id of a message thread of this client.")

	_, err = db.MessagesGetAll(ctx, mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{unknown}, Page: mews.Page{Cursor: &unknown, Count: 1}})
	wantMessage(t, err, "Invalid Limitation.Cursor: "+unknown.String()+" is not the Id of a message of this client.")

	err = db.MessagesAdd(ctx, scope, []mews.Message{{ID: uuid.New(), ThreadID: unknown, Text: "Hi", Sender: mews.SenderApplication}})
	wantMessage(t, err, "Invalid MessageThreadId: "+unknown.String()+" is not a message thread of this client.")
}

// wantInternal checks that err is an internal error of this package: the
// server logs it and shows the client nothing of it.
func wantInternal(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	var me *mews.Error
	if errors.As(err, &me) {
		t.Errorf("got *mews.Error %v, want an internal error", err)
	}
	if !strings.HasPrefix(err.Error(), "sqlite: ") {
		t.Errorf("error %q does not start with \"sqlite: \"", err)
	}
}

func TestDuplicateThreadIsInternal(t *testing.T) {
	db := openClosed(t, Memory)
	th := testThread(testScope())
	if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	wantInternal(t, db.MessageThreadsAdd(t.Context(), th))
}

func TestDuplicateMessageIsInternalAndAddsNothing(t *testing.T) {
	db := openClosed(t, Memory)
	ctx := t.Context()
	scope := testScope()
	th := testThread(scope)
	if err := db.MessageThreadsAdd(ctx, th); err != nil {
		t.Fatal(err)
	}
	m := mews.Message{ID: uuid.New(), ThreadID: th.ID, Text: "Hi", Sender: mews.SenderApplication, CreatedUTC: th.CreatedUTC.Add(time.Hour)}
	fresh := m
	fresh.ID = uuid.New()
	wantInternal(t, db.MessagesAdd(ctx, scope, []mews.Message{fresh, m, m}))

	got, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{th.ID}, Page: mews.Page{Count: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("got %d messages after a failed batch, want none", len(got))
	}
}

func TestPageCountBelowOneIsInternal(t *testing.T) {
	db := openClosed(t, Memory)
	scope := testScope()
	_, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, Page: mews.Page{Count: 0}})
	wantInternal(t, err)
	_, err = db.MessagesGetAll(t.Context(), mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{uuid.New()}, Page: mews.Page{Count: -1}})
	wantInternal(t, err)
}
