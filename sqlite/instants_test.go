package sqlite

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/migrations"
	"github.com/mewsref/mewsref/mews"
)

// Rows stored before migration 0003, in whole seconds, keep their instants,
// sort among the finer instants stored after it, and are selected by
// intervals as before.
func TestMigrationToMicrosecondsKeepsWholeSeconds(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mews.db")
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	v3 := slices.IndexFunc(ms, func(m migrations.Migration) bool { return m.Version == 3 })
	if v3 < 0 {
		t.Fatalf("no migration 0003 among %d migrations", len(ms))
	}
	old, err := openPool(ctx, dsn("file:"+path, true, "foreign_keys(1)"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(ctx, old, ms[:v3]); err != nil {
		t.Fatal(err)
	}
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	const sec = 1_700_000_000
	oldThread := mews.Thread{
		ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
		OriginalSender: "Guest", Subject: "Stay",
		CreatedUTC: time.Unix(sec, 0).UTC(), UpdatedUTC: time.Unix(sec+2, 0).UTC(),
	}
	oldMessage := mews.Message{ID: uuid.New(), ThreadID: oldThread.ID, Text: "Hello", Sender: mews.SenderApplication, CreatedUTC: oldThread.UpdatedUTC}
	// As schema version 2 stored them: Unix seconds.
	if _, err := old.ExecContext(ctx, insertThreadSQLv1, blob(oldThread.ID), blob(oldThread.IntegrationID), blob(oldThread.EnterpriseID),
		oldThread.OriginalSender, oldThread.Subject, int64(sec), int64(sec+2), false); err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, insertMessageSQLv1, blob(oldMessage.ID), blob(oldMessage.ThreadID),
		oldMessage.Text, string(oldMessage.Sender), int64(sec+2)); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := openClosed(t, path)
	// Added after the migration: half a second after the old thread.
	newThread := oldThread
	newThread.ID = uuid.New()
	newThread.CreatedUTC = time.Unix(sec, 500_000_000).UTC()
	newThread.UpdatedUTC = newThread.CreatedUTC
	if err := db.MessageThreadsAdd(ctx, newThread); err != nil {
		t.Fatal(err)
	}
	got, err := db.MessageThreadsGetAll(ctx, mews.ThreadFilter{
		Scope: scope, Created: &mews.Interval{Start: time.Unix(sec, 0), End: time.Unix(sec, 999_999_999)}, Page: mews.Page{Count: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != newThread || got[1] != oldThread {
		t.Errorf("threads after the migration: %+v, want [%+v %+v]", got, newThread, oldThread)
	}
	got, err = db.MessageThreadsGetAll(ctx, mews.ThreadFilter{
		Scope: scope, Updated: &mews.Interval{Start: time.Unix(sec+2, 0), End: time.Unix(sec+2, 0)}, Page: mews.Page{Count: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != oldThread {
		t.Errorf("threads updated at the old second: %+v, want [%+v]", got, oldThread)
	}
	msgs, err := db.MessagesGetAll(ctx, mews.MessageFilter{
		Scope: scope, ThreadIDs: []uuid.UUID{oldThread.ID}, Created: &mews.Interval{Start: time.Unix(sec+2, 0), End: time.Unix(sec+2, 0)}, Page: mews.Page{Count: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0] != oldMessage {
		t.Errorf("messages after the migration: %+v, want [%+v]", msgs, oldMessage)
	}
}
