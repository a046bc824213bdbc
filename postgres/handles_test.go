package postgres

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/mews"
)

// Two DBs on one schema stand for two server processes: each has its own
// pool, and they meet only in the database. Writers through both add items
// in the same few seconds, so the order rests on seq; a walk through either
// must then give the same sequence, every item once, newest first, and the
// items of one writer (added one after the other) in the reverse order of
// their adding.
func TestTwoHandlesShareOneOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	dbs := []*DB{openClosed(t, dsn), openClosed(t, dsn)}
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New(), uuid.New()}}
	base := time.Unix(1e9, 0).UTC()
	const workers, ops = 8, 30
	threads := make([][]mews.Thread, workers)   // per writer, in the order added
	messages := make([][]mews.Message, workers) // idem
	var wg sync.WaitGroup
	for w := range workers {
		db := dbs[w%2]
		wg.Go(func() {
			for i := range ops {
				th := testThread(scope)
				th.EnterpriseID = scope.EnterpriseIDs[i%2]
				th.CreatedUTC = base.Add(time.Duration(i/10) * time.Second)
				th.UpdatedUTC = th.CreatedUTC
				if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
					t.Errorf("writer %d: add thread: %v", w, err)
					return
				}
				threads[w] = append(threads[w], th)
				m := mews.Message{ID: uuid.New(), ThreadID: threads[w][i/2].ID, Text: "Hi", Sender: mews.SenderEnterprise, CreatedUTC: th.CreatedUTC}
				if err := db.MessagesAdd(t.Context(), scope, []mews.Message{m}); err != nil {
					t.Errorf("writer %d: add message: %v", w, err)
					return
				}
				messages[w] = append(messages[w], m)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var threadIDs []uuid.UUID
	for _, ts := range threads {
		for _, th := range ts {
			threadIDs = append(threadIDs, th.ID)
		}
	}
	var walks [2][]mews.Thread
	var msgWalks [2][]mews.Message
	for i, db := range dbs {
		walks[i] = walkAll(t, 7, func(cursor *uuid.UUID) ([]mews.Thread, error) {
			return db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope,
				Created: &mews.Interval{Start: base, End: base.Add(time.Hour)}, Page: mews.Page{Cursor: cursor, Count: 7}})
		}, func(th mews.Thread) (uuid.UUID, time.Time) { return th.ID, th.CreatedUTC })
		msgWalks[i] = walkAll(t, 9, func(cursor *uuid.UUID) ([]mews.Message, error) {
			return db.MessagesGetAll(t.Context(), mews.MessageFilter{Scope: scope, ThreadIDs: threadIDs, Page: mews.Page{Cursor: cursor, Count: 9}})
		}, func(m mews.Message) (uuid.UUID, time.Time) { return m.ID, m.CreatedUTC })
	}
	if !slices.Equal(ids(walks[0], threadKey), ids(walks[1], threadKey)) {
		t.Error("the two handles walk the threads in different orders")
	}
	if !slices.Equal(ids(msgWalks[0], messageKey), ids(msgWalks[1], messageKey)) {
		t.Error("the two handles walk the messages in different orders")
	}
	checkWriters(t, "threads", walks[0], threads, threadKey)
	checkWriters(t, "messages", msgWalks[0], messages, messageKey)
}

func threadKey(th mews.Thread) (uuid.UUID, time.Time)  { return th.ID, th.CreatedUTC }
func messageKey(m mews.Message) (uuid.UUID, time.Time) { return m.ID, m.CreatedUTC }

func ids[T any](items []T, key func(T) (uuid.UUID, time.Time)) []uuid.UUID {
	out := make([]uuid.UUID, len(items))
	for i, it := range items {
		out[i], _ = key(it)
	}
	return out
}

// walkAll reads pages of count until an empty one and checks that they run
// newest first, with no item twice.
func walkAll[T any](t *testing.T, count int, page func(cursor *uuid.UUID) ([]T, error), key func(T) (uuid.UUID, time.Time)) []T {
	t.Helper()
	var all []T
	var cursor *uuid.UUID
	seen := make(map[uuid.UUID]bool)
	for {
		got, err := page(cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return all
		}
		for _, it := range got {
			id, created := key(it)
			if seen[id] {
				t.Fatalf("item %s seen twice", id)
			}
			seen[id] = true
			if len(all) > 0 {
				if _, prev := key(all[len(all)-1]); created.After(prev) {
					t.Fatalf("item %s (%v) after an older one (%v)", id, created, prev)
				}
			}
			all = append(all, it)
		}
		last, _ := key(got[len(got)-1])
		cursor = &last
	}
}

// checkWriters checks that walked holds every item that the writers added,
// and each writer's items in the reverse order of their adding.
func checkWriters[T any](t *testing.T, what string, walked []T, byWriter [][]T, key func(T) (uuid.UUID, time.Time)) {
	t.Helper()
	pos := make(map[uuid.UUID]int, len(walked))
	for i, it := range walked {
		id, _ := key(it)
		pos[id] = i
	}
	n := 0
	for w, items := range byWriter {
		n += len(items)
		for i, it := range items {
			id, _ := key(it)
			p, ok := pos[id]
			if !ok {
				t.Fatalf("%s: item %d of writer %d not walked", what, i, w)
			}
			if i > 0 {
				if prev, _ := key(items[i-1]); p > pos[prev] {
					t.Errorf("%s: item %d of writer %d walked after the item it was added after", what, i, w)
				}
			}
		}
	}
	if len(walked) != n {
		t.Errorf("%s: walked %d items, want %d", what, len(walked), n)
	}
}

// Batches that add to the same threads in opposite orders, at once, must
// all succeed: each transaction locks its threads in one order (by id), so
// none waits for another that waits for it.
func TestCrossedBatchesDoNotDeadlock(t *testing.T) {
	dsn := pgtest.DSN(t)
	dbs := []*DB{openClosed(t, dsn), openClosed(t, dsn)}
	scope := testScope()
	a, b := testThread(scope), testThread(scope)
	for _, th := range []mews.Thread{a, b} {
		if err := dbs[0].MessageThreadsAdd(t.Context(), th); err != nil {
			t.Fatal(err)
		}
	}
	const workers, batches = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		first, second := a.ID, b.ID
		if w%2 == 1 {
			first, second = second, first
		}
		wg.Go(func() {
			for i := range batches {
				at := a.CreatedUTC.Add(time.Duration(w*batches+i) * time.Second)
				msgs := []mews.Message{
					{ID: uuid.New(), ThreadID: first, Text: fmt.Sprint(w, i), Sender: mews.SenderApplication, CreatedUTC: at},
					{ID: uuid.New(), ThreadID: second, Text: fmt.Sprint(w, i), Sender: mews.SenderApplication, CreatedUTC: at},
				}
				if err := dbs[w%2].MessagesAdd(t.Context(), scope, msgs); err != nil {
					t.Errorf("writer %d, batch %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	newest := a.CreatedUTC.Add(time.Duration(workers*batches-1) * time.Second)
	for _, th := range []mews.Thread{a, b} {
		if got := threadByID(t, dbs[1], scope, th.ID); !got.UpdatedUTC.Equal(newest) {
			t.Errorf("thread UpdatedUTC %v, want the newest message's %v", got.UpdatedUTC, newest)
		}
	}
}
