package benchdata

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// readPage is the page size of Read's walks through the store.
const readPage = 10_000

// Read finds in db the data that Load stored in scope, earlier and perhaps
// in another process, with whatever was added to it since: every thread of
// scope, sampled as Load samples them; the long threads are the
// LongThreads oldest, each with at least LongMessages messages. A store
// without them was not loaded by Load: Read says so, and what it found.
func Read(ctx context.Context, db mews.Store, scope mews.Scope) (*Set, error) {
	s := &Set{Scope: scope}
	var oldest []mews.Thread // the last LongThreads of the walk, newest first
	page := mews.Page{Count: readPage}
	for {
		ts, err := db.MessageThreadsGetAll(ctx, mews.ThreadFilter{Scope: scope, Page: page})
		if err != nil {
			return nil, fmt.Errorf("benchdata: reading the threads: %w", err)
		}
		for _, t := range ts {
			s.keep(s.Count, t.ID)
			s.Count++
		}
		oldest = append(oldest, ts[max(0, len(ts)-LongThreads):]...)
		oldest = oldest[max(0, len(oldest)-LongThreads):]
		if len(ts) < page.Count {
			break
		}
		page.Cursor = &ts[len(ts)-1].ID
	}
	if s.Count < LongThreads {
		return nil, fmt.Errorf("benchdata: %d threads of integration %s in enterprise %s, want at least %d: not data that Load stored",
			s.Count, scope.IntegrationID, scope.EnterpriseIDs[0], LongThreads)
	}
	// Load made the threads over Span, the long ones first.
	s.Start = oldest[len(oldest)-1].CreatedUTC
	s.End = s.Start.Add(Span)
	for i := len(oldest) - 1; i >= 0; i-- {
		long, n, err := readLong(ctx, db, scope, oldest[i].ID)
		if err != nil {
			return nil, err
		}
		if n < LongMessages {
			return nil, fmt.Errorf("benchdata: thread %s, one of the %d oldest of integration %s, has %d messages, want at least %d: not data that Load stored",
				oldest[i].ID, LongThreads, scope.IntegrationID, n, LongMessages)
		}
		s.Long = append(s.Long, long)
	}
	return s, nil
}

// readLong returns thread's messages that have at least 100 older ones, as
// Long's cursors, and how many messages it has.
func readLong(ctx context.Context, db mews.Store, scope mews.Scope, thread uuid.UUID) (Long, int, error) {
	var ids []uuid.UUID // newest first
	page := mews.Page{Count: readPage}
	for {
		ms, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: scope, ThreadIDs: []uuid.UUID{thread}, Page: page})
		if err != nil {
			return Long{}, 0, fmt.Errorf("benchdata: reading the messages of thread %s: %w", thread, err)
		}
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if len(ms) < page.Count {
			break
		}
		page.Cursor = &ms[len(ms)-1].ID
	}
	long := Long{Thread: thread}
	for i := len(ids) - 1 - 100; i >= 0; i-- { // oldest first, as Load lists them
		long.Cursors = append(long.Cursors, ids[i])
	}
	return long, len(ids), nil
}
