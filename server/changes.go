package server

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mewsref/mewsref/mews"
)

// changes tells live views (the console) that the data changed: a thread,
// a message, a resolution, a delivery, whichever process wrote it.
//
// The write paths only call changed, a non-blocking send on a channel of
// one: a burst of writes is one signal, and nothing waits. A goroutine
// turns the signal into a notification: on PostgreSQL a NOTIFY, after the
// commit, that every replica's listener hears (this one's too), so that the
// database is the source of "something changed"; on SQLite, one process, it
// tells this process's subscribers directly.
type changes struct {
	poke   chan struct{}
	settle chan chan struct{} // settled's requests
	feed   mews.ChangeFeed    // nil: in-process only
	log    *slog.Logger

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
	gen  atomic.Uint64 // broadcasts so far

	cancel  context.CancelFunc
	stopped sync.WaitGroup
}

func newChanges(store mews.Store, log *slog.Logger) *changes {
	c := &changes{poke: make(chan struct{}, 1), settle: make(chan chan struct{}), log: log, subs: make(map[chan struct{}]struct{})}
	c.feed, _ = store.(mews.ChangeFeed)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.stopped.Go(func() { c.send(ctx) })
	if c.feed != nil {
		c.stopped.Go(func() { c.listen(ctx) })
	}
	return c
}

// changed signals a committed write. Safe on a nil *changes (no live views).
func (c *changes) changed() {
	if c == nil {
		return
	}
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

func (c *changes) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.poke:
		case done := <-c.settle:
			// A change signalled before settled was called waits in
			// poke, or was taken from it and sent already.
			select {
			case <-c.poke:
				c.notify(ctx)
			default:
			}
			close(done)
			continue
		}
		c.notify(ctx)
	}
}

// notify tells the subscribers of every process, or this one's, that the
// data changed.
func (c *changes) notify(ctx context.Context) {
	if c.feed == nil {
		c.broadcast()
		return
	}
	nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.feed.NotifyChanged(nctx); err != nil && ctx.Err() == nil {
		c.log.Warn("live views: could not notify a change; the console may show it late", "error", err.Error())
		c.broadcast() // this process's views at least
	}
}

// settled waits until every change signalled before it was called is
// broadcast (on PostgreSQL: notified; every listener hears it later), so
// that a test can tell the changes of what it does next from those before.
func (c *changes) settled(ctx context.Context) error {
	if c == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case c.settle <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listen follows the notifications of every process, reconnecting after a
// second when the connection is lost.
func (c *changes) listen(ctx context.Context) {
	for {
		err := c.feed.ListenChanges(ctx, c.broadcast)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("live views: lost the change notifications; reconnecting in 1s", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// broadcast wakes every subscriber; one that is behind gets one wake-up for
// all the changes it missed.
func (c *changes) broadcast() {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel that receives after changes, and the function
// that ends the subscription.
func (c *changes) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// Generation counts the broadcasts so far.
func (c *changes) Generation() uint64 { return c.gen.Load() }

func (c *changes) stop() {
	if c == nil {
		return
	}
	c.cancel()
	c.stopped.Wait()
}

// journalChanges signals the live views after the journal recorded a batch
// of entries: the console's requests page follows the journal, off the
// request's path (the recorder writes in the background).
type journalChanges struct {
	mews.Journal
	changes *changes
}

func (j journalChanges) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) error {
	err := j.Journal.RequestsAdd(ctx, entries, keep)
	if err == nil {
		j.changes.changed()
	}
	return err
}
