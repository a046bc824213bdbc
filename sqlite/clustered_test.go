package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/migrations"
	"github.com/mewsref/mewsref/mews"
)

// The inserts of schema versions 1 to 5, where seq was the rowid.
const (
	insertThreadSQLv1 = `INSERT INTO threads
		(id, integration_id, enterprise_id, original_sender, subject, created_utc, updated_utc, is_resolved)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	insertMessageSQLv1 = `INSERT INTO messages (id, thread_id, text, sender, created_utc) VALUES (?, ?, ?, ?, ?)`
)

// openAt creates a database file at path with the migrations up to version
// v (inclusive) and returns its write pool.
func openAt(t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	n := slices.IndexFunc(ms, func(m migrations.Migration) bool { return m.Version > v })
	if n < 0 {
		t.Fatalf("no migration after version %d", v)
	}
	old, err := openPool(t.Context(), dsn("file:"+path, true, "foreign_keys(1)", "journal_mode(WAL)"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(t.Context(), old, ms[:n]); err != nil {
		t.Fatal(err)
	}
	return old
}

// A file of schema version 5 (seq the rowid, pages through indexes) keeps
// every item, its seq, and so every page and every cursor, through
// migration 0006; what is added afterwards sorts after it.
func TestMigrationToClusteredTablesKeepsPages(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mews.db")
	old := openAt(t, path, 5)
	integration := uuid.New()
	e1, e2 := uuid.New(), uuid.New()
	const sec = 1_700_000_000
	rng := rand.New(rand.NewPCG(1, 2))

	// 30 threads in two enterprises, three to each instant, stored in a
	// random order: seq and the instant disagree, and ties need seq.
	var threads []mews.Thread
	for i := range 30 {
		at := time.UnixMicro(sec*1_000_000 + int64(i/3)*1500).UTC()
		e := e1
		if i%4 == 0 {
			e = e2
		}
		threads = append(threads, mews.Thread{ID: uuid.New(), IntegrationID: integration, EnterpriseID: e,
			OriginalSender: "Guest", Subject: "Stay", CreatedUTC: at, UpdatedUTC: at.Add(time.Hour), IsResolved: i%5 == 0})
	}
	rng.Shuffle(len(threads), func(i, j int) { threads[i], threads[j] = threads[j], threads[i] })
	for _, th := range threads {
		if _, err := old.ExecContext(ctx, insertThreadSQLv1, blob(th.ID), blob(th.IntegrationID), blob(th.EnterpriseID),
			th.OriginalSender, th.Subject, micros(th.CreatedUTC), micros(th.UpdatedUTC), th.IsResolved); err != nil {
			t.Fatal(err)
		}
	}
	// 40 messages in two threads, interleaved, two to each instant.
	var msgs []mews.Message
	for i := range 40 {
		th := threads[i%2]
		msgs = append(msgs, mews.Message{ID: uuid.New(), ThreadID: th.ID, Text: "Hello", Sender: mews.SenderApplication,
			CreatedUTC: th.CreatedUTC.Add(time.Duration(i/4) * time.Second)})
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for _, m := range msgs {
		if _, err := old.ExecContext(ctx, insertMessageSQLv1, blob(m.ID), blob(m.ThreadID), m.Text, string(m.Sender), micros(m.CreatedUTC)); err != nil {
			t.Fatal(err)
		}
	}
	seqsBefore := seqsOf(t, old)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := openClosed(t, path)
	if got := seqsOf(t, db.read); !mapsEqual(got, seqsBefore) {
		t.Errorf("seq values after the migration differ: %v, want %v", got, seqsBefore)
	}
	// The expected order: newest instant first, then the later insert.
	byPage := func(items []uuid.UUID, created func(uuid.UUID) time.Time) []uuid.UUID {
		out := slices.Clone(items)
		slices.SortFunc(out, func(a, b uuid.UUID) int {
			if c := created(b).Compare(created(a)); c != 0 {
				return c
			}
			return int(seqsBefore[b] - seqsBefore[a])
		})
		return out
	}
	threadCreated := map[uuid.UUID]time.Time{}
	var inE1, inBoth []uuid.UUID
	for _, th := range threads {
		threadCreated[th.ID] = th.CreatedUTC
		inBoth = append(inBoth, th.ID)
		if th.EnterpriseID == e1 {
			inE1 = append(inE1, th.ID)
		}
	}
	for _, c := range []struct {
		name  string
		scope mews.Scope
		want  []uuid.UUID
	}{
		{"one enterprise", mews.Scope{IntegrationID: integration, EnterpriseIDs: []uuid.UUID{e1}}, inE1},
		{"two enterprises", mews.Scope{IntegrationID: integration, EnterpriseIDs: []uuid.UUID{e1, e2}}, inBoth},
	} {
		want := byPage(c.want, func(id uuid.UUID) time.Time { return threadCreated[id] })
		got := walkThreads(t, db, c.scope, 4)
		if !slices.Equal(got, want) {
			t.Errorf("threads of %s after the migration:\n got %v\nwant %v", c.name, got, want)
		}
	}
	msgCreated := map[uuid.UUID]time.Time{}
	var ofFirst, ofBoth []uuid.UUID
	for _, m := range msgs {
		msgCreated[m.ID] = m.CreatedUTC
		ofBoth = append(ofBoth, m.ID)
		if m.ThreadID == threads[0].ID {
			ofFirst = append(ofFirst, m.ID)
		}
	}
	both := mews.Scope{IntegrationID: integration, EnterpriseIDs: []uuid.UUID{e1, e2}}
	for _, c := range []struct {
		name    string
		threads []uuid.UUID
		want    []uuid.UUID
	}{
		{"one thread", []uuid.UUID{threads[0].ID}, ofFirst},
		{"two threads", []uuid.UUID{threads[0].ID, threads[1].ID}, ofBoth},
	} {
		want := byPage(c.want, func(id uuid.UUID) time.Time { return msgCreated[id] })
		got := walkMessages(t, db, both, c.threads, 3)
		if !slices.Equal(got, want) {
			t.Errorf("messages of %s after the migration:\n got %v\nwant %v", c.name, got, want)
		}
	}

	// Added now at the newest instant of the old items: after them.
	newest := slices.MaxFunc(threads, func(a, b mews.Thread) int { return a.CreatedUTC.Compare(b.CreatedUTC) })
	added := newest
	added.ID = uuid.New()
	if err := db.MessageThreadsAdd(ctx, added); err != nil {
		t.Fatal(err)
	}
	m := mews.Message{ID: uuid.New(), ThreadID: threads[0].ID, Text: "Again", Sender: mews.SenderEnterprise,
		CreatedUTC: msgCreated[byPage(ofFirst, func(id uuid.UUID) time.Time { return msgCreated[id] })[0]]}
	if err := db.MessagesAdd(ctx, both, []mews.Message{m}); err != nil {
		t.Fatal(err)
	}
	page, err := db.MessageThreadsGetAll(ctx, mews.ThreadFilter{Scope: mews.Scope{IntegrationID: integration, EnterpriseIDs: []uuid.UUID{added.EnterpriseID}}, Page: mews.Page{Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != added.ID || page[1].ID != newest.ID {
		t.Errorf("first page after an add: %v, want %s then %s", page, added.ID, newest.ID)
	}
	mp, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: both, ThreadIDs: []uuid.UUID{threads[0].ID}, Page: mews.Page{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(mp) != 1 || mp[0].ID != m.ID {
		t.Errorf("newest message after an add: %v, want %s", mp, m.ID)
	}
	// The foreign key now refers to the renamed table.
	var parent string
	if err := db.read.QueryRowContext(ctx, "SELECT \"table\" FROM pragma_foreign_key_list('messages')").Scan(&parent); err != nil {
		t.Fatal(err)
	}
	if parent != "threads" {
		t.Errorf("messages refers to %q, want threads", parent)
	}
}

// seqsOf returns the seq of every thread and message, by id.
func seqsOf(t *testing.T, q *sql.DB) map[uuid.UUID]int64 {
	t.Helper()
	out := map[uuid.UUID]int64{}
	for _, table := range []string{"threads", "messages"} {
		rows, err := q.QueryContext(t.Context(), "SELECT id, seq FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id uuid.UUID
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				t.Fatal(err)
			}
			out[id] = seq
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func mapsEqual(a, b map[uuid.UUID]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// walkThreads reads every thread of scope in pages of count, each page
// after the last item of the one before.
func walkThreads(t *testing.T, db *DB, scope mews.Scope, count int) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	var cursor *uuid.UUID
	for {
		page, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, Page: mews.Page{Count: count, Cursor: cursor}})
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range page {
			out = append(out, th.ID)
		}
		if len(page) < count {
			return out
		}
		cursor = &page[len(page)-1].ID
	}
}

// walkMessages reads every message of threads in pages of count.
func walkMessages(t *testing.T, db *DB, scope mews.Scope, threads []uuid.UUID, count int) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	var cursor *uuid.UUID
	for {
		page, err := db.MessagesGetAll(t.Context(), mews.MessageFilter{Scope: scope, ThreadIDs: threads, Page: mews.Page{Count: count, Cursor: cursor}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			out = append(out, m.ID)
		}
		if len(page) < count {
			return out
		}
		cursor = &page[len(page)-1].ID
	}
}

// The sequences hand out each value once, also to two handles on one file
// (two processes), and what a rolled-back write took is not stored.
func TestSequencesUniqueAcrossHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mews.db")
	dbs := []*DB{openClosed(t, path), openClosed(t, path)}
	scope := testScope()
	done := make(chan error)
	for w := range 4 {
		go func() {
			var err error
			for range 30 {
				th := testThread(scope) // all at one instant: only seq orders them
				if err = dbs[w%2].MessageThreadsAdd(ctx, th); err != nil {
					break
				}
				// A failing write (an unknown thread) takes values too.
				_ = dbs[w%2].MessagesAdd(ctx, scope, []mews.Message{{ID: uuid.New(), ThreadID: uuid.New(), Text: "x",
					Sender: mews.SenderApplication, CreatedUTC: th.CreatedUTC}})
				if err = dbs[w%2].MessagesAdd(ctx, scope, []mews.Message{
					{ID: uuid.New(), ThreadID: th.ID, Text: "a", Sender: mews.SenderApplication, CreatedUTC: th.CreatedUTC},
					{ID: uuid.New(), ThreadID: th.ID, Text: "b", Sender: mews.SenderApplication, CreatedUTC: th.CreatedUTC},
				}); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"threads", "messages"} {
		var n, distinct, maxSeq, next int64
		if err := dbs[0].read.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT seq), max(seq) FROM "+table).Scan(&n, &distinct, &maxSeq); err != nil {
			t.Fatal(err)
		}
		if err := dbs[1].read.QueryRowContext(ctx, "SELECT next FROM sequences WHERE name = ?", table).Scan(&next); err != nil {
			t.Fatal(err)
		}
		if n != distinct || next <= maxSeq {
			t.Errorf("%s: %d rows, %d distinct seq values, max %d, sequence at %d", table, n, distinct, maxSeq, next)
		}
	}
	if got := walkThreads(t, dbs[1], scope, 7); len(got) != 120 {
		t.Errorf("walked %d threads, want 120", len(got))
	}
}

// A write that reserves seq values and then fails takes its reservation
// with it, also when the other writes of its transaction commit: the values
// are reserved again and handed out once.
func TestSequencesForgetRolledBackReservation(t *testing.T) {
	ctx := t.Context()
	db := openClosed(t, filepath.Join(t.TempDir(), "mews.db"))
	scope := testScope()
	th := testThread(scope)
	if err := db.MessageThreadsAdd(ctx, th); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("fails after reserving")
	// One transaction of two writes, run as the writer's loop would: the
	// first reserves the block of message values and fails, the second
	// takes values and commits.
	batch := []*job{
		{ctx: ctx, done: make(chan struct{}), fn: func(ctx context.Context, tx *txn) error {
			if _, err := tx.seq.take(ctx, tx.Tx, messageSeq, 1); err != nil {
				return err
			}
			return failed
		}},
		{ctx: ctx, done: make(chan struct{}), fn: func(ctx context.Context, tx *txn) error {
			return db.addMessages(ctx, tx, []mews.Message{{ID: uuid.New(), ThreadID: th.ID, Text: "x",
				Sender: mews.SenderApplication, CreatedUTC: th.CreatedUTC}})
		}},
	}
	db.writer.run(batch) // the loop is idle: nothing else is written
	if !errors.Is(batch[0].err, failed) || batch[1].err != nil {
		t.Fatalf("outcomes %v and %v, want the first to fail", batch[0].err, batch[1].err)
	}
	var maxSeq, next int64
	if err := db.read.QueryRowContext(ctx, "SELECT max(seq) FROM messages").Scan(&maxSeq); err != nil {
		t.Fatal(err)
	}
	if err := db.read.QueryRowContext(ctx, "SELECT next FROM sequences WHERE name = 'messages'").Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next <= maxSeq {
		t.Errorf("the sequence is at %d, yet a message has seq %d: another writer would hand it out again", next, maxSeq)
	}
}
