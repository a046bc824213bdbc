package postgres

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

// The texts are the SQLite engine's, word for word: clients see them.
func TestErrorMessages(t *testing.T) {
	db := openFresh(t)
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
	if !strings.HasPrefix(err.Error(), "postgres: ") {
		t.Errorf("error %q does not start with \"postgres: \"", err)
	}
}

func TestDuplicateThreadIsInternal(t *testing.T) {
	db := openFresh(t)
	th := testThread(testScope())
	if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	wantInternal(t, db.MessageThreadsAdd(t.Context(), th))
}

func TestDuplicateMessageIsInternalAndAddsNothing(t *testing.T) {
	db := openFresh(t)
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
	if got := threadByID(t, db, scope, th.ID); !got.UpdatedUTC.Equal(th.UpdatedUTC) {
		t.Errorf("thread UpdatedUTC %v after a failed batch, want %v", got.UpdatedUTC, th.UpdatedUTC)
	}
}

func TestPageCountBelowOneIsInternal(t *testing.T) {
	db := openFresh(t)
	scope := testScope()
	_, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, Page: mews.Page{Count: 0}})
	wantInternal(t, err)
	_, err = db.MessagesGetAll(t.Context(), mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{uuid.New()}, Page: mews.Page{Count: -1}})
	wantInternal(t, err)
}

// threadByID returns thread id as stored, seen through scope.
func threadByID(t *testing.T, db *DB, scope mews.Scope, id uuid.UUID) mews.Thread {
	t.Helper()
	got, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, IDs: []uuid.UUID{id}, Page: mews.Page{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("thread %s: got %d threads, want 1", id, len(got))
	}
	return got[0]
}

// JSON allows U+0000 in a string, and SQLite keeps it; PostgreSQL's text
// type refuses it, which is why the free-text columns are bytea. Any Go
// string, even one that is not UTF-8, comes back as it went in.
func TestStringsRoundTripExactly(t *testing.T) {
	db := openFresh(t)
	ctx := t.Context()
	scope := testScope()
	odd := []string{"nul \x00 inside", "\x00", "not UTF-8: \xff\xfe", "Přílet 🛬 — 到着 % _ \\ '\""}
	var ids []uuid.UUID
	var msgs []mews.Message
	for i, s := range odd {
		th := testThread(scope)
		th.OriginalSender, th.Subject = s, odd[len(odd)-1-i]
		if err := db.MessageThreadsAdd(ctx, th); err != nil {
			t.Fatalf("add thread with %q: %v", s, err)
		}
		if got := threadByID(t, db, scope, th.ID); got != th {
			t.Errorf("thread: got %+v, want %+v", got, th)
		}
		ids = append(ids, th.ID)
		msgs = append(msgs, mews.Message{ID: uuid.New(), ThreadID: th.ID, Text: s, Sender: mews.SenderEnterprise, CreatedUTC: th.CreatedUTC})
	}
	if err := db.MessagesAdd(ctx, scope, msgs); err != nil {
		t.Fatalf("add messages: %v", err)
	}
	for _, want := range msgs {
		got, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{want.ThreadID}, Page: mews.Page{Count: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("messages: got %+v, want [%+v]", got, want)
		}
	}
}

// Times are stored to the microsecond, rounded down like the SQLite
// engine's (time.Time.UnixMicro), and read back in UTC.
func TestTimesAreMicrosecondsInUTC(t *testing.T) {
	db := openFresh(t)
	scope := testScope()
	th := testThread(scope)
	th.CreatedUTC = time.Date(2024, 3, 1, 12, 0, 5, 999_999_999, time.FixedZone("CET", 3600))
	th.UpdatedUTC = th.CreatedUTC.Add(time.Minute)
	if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	got := threadByID(t, db, scope, th.ID)
	if want := time.Date(2024, 3, 1, 11, 0, 5, 999_999_000, time.UTC); got.CreatedUTC != want {
		t.Errorf("CreatedUTC %v (%s), want %v", got.CreatedUTC, got.CreatedUTC.Location(), want)
	}
	if want := time.Date(2024, 3, 1, 11, 1, 5, 999_999_000, time.UTC); got.UpdatedUTC != want {
		t.Errorf("UpdatedUTC %v, want %v", got.UpdatedUTC, want)
	}
}
