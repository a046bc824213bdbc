// Package benchdata generates the data that the benchmarks read: many
// threads of one integration in one enterprise, created over 30 days, and
// their messages, including a few long threads for full pages of messages.
package benchdata

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// Importer stores data in bulk (sqlite.DB.Import).
type Importer interface {
	Import(ctx context.Context, threads []mews.Thread, msgs []mews.Message) error
}

// Set describes what Load made, for building requests and queries.
type Set struct {
	Scope   mews.Scope
	Start   time.Time   // creation time of the oldest thread
	End     time.Time   // creation time of the newest item
	Count   int         // threads in Scope
	Threads []uuid.UUID // a sample of thread ids, from all of history
	Long    []Long
}

// Long is a thread with LongMessages messages.
type Long struct {
	Thread  uuid.UUID
	Cursors []uuid.UUID // ids of its messages that have at least 100 older ones
}

// Sizes of the generated data.
const (
	LongThreads  = 20
	LongMessages = 1000
	batch        = 50_000
	sample       = 100_000
	// Span is the time over which the threads are created, ending when
	// Load runs.
	Span = 30 * 24 * time.Hour
)

// Load imports nThreads threads in scope and nMessages messages:
// LongThreads threads of LongMessages messages each, the rest spread evenly.
func Load(ctx context.Context, db Importer, scope mews.Scope, nThreads, nMessages int) (*Set, error) {
	if nThreads < LongThreads {
		return nil, fmt.Errorf("benchdata: at least %d threads", LongThreads)
	}
	now := time.Now().UTC().Truncate(time.Second)
	s := &Set{Scope: scope, Start: now.Add(-Span), End: now, Count: nThreads}
	step := Span / time.Duration(nThreads)
	rest := max(0, nMessages-LongThreads*LongMessages)
	var threads []mews.Thread
	var msgs []mews.Message
	flush := func() error {
		err := db.Import(ctx, threads, msgs)
		threads, msgs = threads[:0], msgs[:0]
		return err
	}
	for i := range nThreads {
		created := s.Start.Add(time.Duration(i) * step).Truncate(time.Second)
		t := mews.Thread{ID: uuid.Must(uuid.NewV7()), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "Bench Guest", Subject: "Late check-out?", CreatedUTC: created, UpdatedUTC: created}
		n := rest / nThreads
		if i < rest%nThreads {
			n++
		}
		if i < LongThreads {
			n = LongMessages
		}
		if n > 0 {
			t.UpdatedUTC = created.Add(time.Minute)
		}
		threads = append(threads, t)
		long := Long{Thread: t.ID}
		for j := range n {
			m := mews.Message{ID: uuid.Must(uuid.NewV7()), ThreadID: t.ID, Text: "Could we check out at 2 pm?",
				Sender: mews.SenderApplication, CreatedUTC: t.UpdatedUTC}
			msgs = append(msgs, m)
			if i < LongThreads && j >= 100 {
				long.Cursors = append(long.Cursors, m.ID)
			}
		}
		if i < LongThreads {
			s.Long = append(s.Long, long)
		}
		s.keep(i, t.ID)
		if len(threads)+len(msgs) >= batch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return s, flush()
}

// keep keeps the i-th thread seen, id, in a sample from all of history:
// the first ones, then every seventh replaces one.
func (s *Set) keep(i int, id uuid.UUID) {
	if len(s.Threads) < sample {
		s.Threads = append(s.Threads, id)
	} else if i%7 == 0 {
		s.Threads[i%sample] = id
	}
}
