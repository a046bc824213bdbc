package sqlite

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// Two handles on one file stand for two processes: their writers are not
// queued by one pool, so they meet in SQLite's locks, where BEGIN IMMEDIATE
// and busy_timeout must make them wait rather than fail.
func TestTwoHandlesWriteOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mews.db")
	dbs := []*DB{openClosed(t, path), openClosed(t, path)}
	scope := testScope()
	const workers, ops = 8, 25
	ids := make([][]uuid.UUID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		db := dbs[w%2]
		wg.Go(func() {
			for i := range ops {
				th := testThread(scope)
				if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
					t.Errorf("worker %d: add thread: %v", w, err)
					return
				}
				m := mews.Message{ID: uuid.New(), ThreadID: th.ID, Text: "Hi", Sender: mews.SenderEnterprise,
					CreatedUTC: th.CreatedUTC.Add(time.Duration(i) * time.Second)}
				if err := db.MessagesAdd(t.Context(), scope, []mews.Message{m}); err != nil {
					t.Errorf("worker %d: add message: %v", w, err)
					return
				}
				ids[w] = append(ids[w], th.ID)
			}
		})
	}
	wg.Wait()
	for w, db := range dbs {
		for _, threads := range ids {
			got, err := db.MessagesGetAll(t.Context(), mews.MessageFilter{Scope: scope, ThreadIDs: threads, Page: mews.Page{Count: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(threads) {
				t.Errorf("handle %d: got %d messages, want %d", w, len(got), len(threads))
			}
		}
	}
}
