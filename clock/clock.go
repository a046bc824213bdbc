// Package clock is the one source of time of the server: every instant the
// server writes or compares (CreatedUtc and UpdatedUtc of new items, the
// rate-limit window and Retry-After, webhook retry schedules and leases, the
// request journal) comes from a Clock.
//
// A Clock is real (the wall clock, possibly shifted by an offset) or frozen
// (an instant that moves only when told). A test sets it, advances it or
// releases it back to running; it never moves backwards, so that the order
// of items and the cursors of pages stay sound.
//
// With a Store, the state lives in the database and every process that
// shares the database follows it: Sync picks up a change made by another
// process. Without one, the state is the process's own.
package clock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Precision is the resolution of the clock's state, the finest the stores
// keep: a frozen instant and an offset are truncated to it, so that a state
// read back from the database is the state written.
const Precision = time.Microsecond

// State is what a Clock is: frozen at an instant, or running with an
// offset from the wall clock. The zero State is the wall clock itself.
type State struct {
	// Frozen: the clock reads At until changed. Otherwise it reads the
	// wall clock plus Offset.
	Frozen bool
	At     time.Time     // frozen only; UTC
	Offset time.Duration // running only
	// Version counts the changes, so that a change made by one process can
	// be told from another's (compare and swap); 0: never changed.
	Version int64
}

// now is the instant the state reads when the wall clock reads wall.
func (s State) now(wall time.Time) time.Time {
	if s.Frozen {
		return s.At
	}
	return wall.Add(s.Offset).UTC()
}

// Mode is the state's mode as the flag and the admin API name it: "real" or
// "frozen".
func (s State) Mode() string {
	if s.Frozen {
		return "frozen"
	}
	return "real"
}

// Store keeps the state of a clock shared by several processes.
type Store interface {
	// ClockLoad returns the stored state; the zero State if none was ever
	// stored.
	ClockLoad(ctx context.Context) (State, error)
	// ClockSwap stores next (whose Version is the stored one plus 1) if
	// the stored state still has Version prev, and reports whether it did.
	ClockSwap(ctx context.Context, prev int64, next State) (bool, error)
}

// ErrBackwards is the error of a change that would move the clock back.
var ErrBackwards = errors.New("the clock never moves backwards")

// Clock is a source of time whose state a test can change. It is safe for
// concurrent use; Now costs an atomic load and, when running, the wall
// clock.
type Clock struct {
	wall  func() time.Time
	store Store // nil: the state is this process's own

	state atomic.Pointer[State]

	mu      sync.Mutex // serializes changes; guards changed
	changed chan struct{}
}

// New returns a clock in state st that reads the wall clock from wall (nil:
// time.Now). With store, Sync adopts the stored state.
func New(wall func() time.Time, st State) *Clock {
	if wall == nil {
		wall = time.Now
	}
	c := &Clock{wall: wall, changed: make(chan struct{})}
	st = normalize(st)
	c.state.Store(&st)
	return c
}

// Real returns the wall clock, unshared: what a server uses when nothing
// else is configured.
func Real() *Clock { return New(nil, State{}) }

// Frozen returns a clock frozen at t, unshared.
func Frozen(t time.Time) *Clock { return New(nil, State{Frozen: true, At: t}) }

func normalize(st State) State {
	st.At = st.At.UTC().Truncate(Precision)
	st.Offset = st.Offset.Truncate(Precision)
	if st.Frozen {
		st.Offset = 0
	} else {
		st.At = time.Time{}
	}
	return st
}

// Now is the clock's current instant, in UTC.
func (c *Clock) Now() time.Time { return c.state.Load().now(c.wall()) }

// State returns the clock's current state.
func (c *Clock) State() State { return *c.state.Load() }

// Changed returns a channel that is closed at the next change of the
// clock's state (by this process, or picked up by Sync): for waiters such as
// the webhook dispatcher, whose due times a jump of the clock moves.
func (c *Clock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Share makes the clock follow store: from now on its changes are stored
// there and Sync adopts the changes of other processes. If init is not nil,
// the stored state becomes *init (a process started with -clock); else the
// clock adopts the stored state. Call it once, before the clock is used.
func (c *Clock) Share(ctx context.Context, store Store, init *State) error {
	c.store = store
	if init == nil {
		return c.Sync(ctx)
	}
	for {
		cur, err := store.ClockLoad(ctx)
		if err != nil {
			return err
		}
		next := normalize(*init)
		next.Version = cur.Version + 1
		ok, err := store.ClockSwap(ctx, cur.Version, next)
		if err != nil {
			return err
		}
		if ok {
			c.adopt(next)
			return nil
		}
	}
}

// Sync adopts the stored state if it changed. It is cheap without a store
// (nothing to do); with one, it is one read of the store.
func (c *Clock) Sync(ctx context.Context) error {
	if c.store == nil {
		return nil
	}
	st, err := c.store.ClockLoad(ctx)
	if err != nil {
		return fmt.Errorf("clock: load: %w", err)
	}
	if st.Version != c.state.Load().Version {
		c.adopt(normalize(st))
	}
	return nil
}

// Adopt makes st, the stored state as the caller read it from the store
// (together with something else, in one round trip), the clock's state if
// it is newer than the clock's: what Sync does, without the read.
func (c *Clock) Adopt(st State) {
	if c.store != nil && st.Version > c.state.Load().Version {
		c.adopt(normalize(st))
	}
}

// adopt makes st the state and wakes the waiters of Changed.
func (c *Clock) adopt(st State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.state.Load()
	if st.Version < cur.Version || st == *cur {
		return // a newer state was adopted meanwhile, or nothing changed
	}
	c.state.Store(&st)
	close(c.changed)
	c.changed = make(chan struct{})
}

// change applies f to the current state (the stored one, with a store) and
// stores the result; f returns an error to refuse the change.
func (c *Clock) change(ctx context.Context, f func(cur State, now time.Time) (State, error)) (State, error) {
	if c.store == nil {
		c.mu.Lock()
		cur := *c.state.Load()
		next, err := f(cur, cur.now(c.wall()))
		if err != nil {
			c.mu.Unlock()
			return cur, err
		}
		next = normalize(next)
		next.Version = cur.Version + 1
		c.mu.Unlock()
		c.adopt(next)
		return next, nil
	}
	for {
		cur, err := c.store.ClockLoad(ctx)
		if err != nil {
			return State{}, fmt.Errorf("clock: load: %w", err)
		}
		next, err := f(cur, cur.now(c.wall()))
		if err != nil {
			return cur, err
		}
		next = normalize(next)
		next.Version = cur.Version + 1
		ok, err := c.store.ClockSwap(ctx, cur.Version, next)
		if err != nil {
			return State{}, fmt.Errorf("clock: store: %w", err)
		}
		if ok {
			c.adopt(next)
			return next, nil
		}
		// Another process changed it meanwhile: decide again on its state.
	}
}

// Set freezes the clock at t, which must not be before its current
// instant (ErrBackwards); the zero t freezes it at its current instant.
func (c *Clock) Set(ctx context.Context, t time.Time) (State, error) {
	return c.change(ctx, func(cur State, now time.Time) (State, error) {
		if t.IsZero() {
			return State{Frozen: true, At: now}, nil
		}
		t = t.UTC().Truncate(Precision)
		if t.Before(now.Truncate(Precision)) {
			return cur, fmt.Errorf("%w: %s is before the clock's current instant %s",
				ErrBackwards, t.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
		}
		return State{Frozen: true, At: t}, nil
	})
}

// Advance moves the clock d ahead (d must not be negative). A frozen clock
// stays frozen; a running one goes on running.
func (c *Clock) Advance(ctx context.Context, d time.Duration) (State, error) {
	if d < 0 {
		return c.State(), fmt.Errorf("%w: cannot advance by %s", ErrBackwards, d)
	}
	return c.change(ctx, func(cur State, now time.Time) (State, error) {
		if cur.Frozen {
			return State{Frozen: true, At: cur.At.Add(d)}, nil
		}
		return State{Offset: cur.Offset + d}, nil
	})
}

// Release lets a frozen clock run again, from its current instant on (it
// does not jump back to the wall clock: that would move it backwards).
func (c *Clock) Release(ctx context.Context) (State, error) {
	return c.change(ctx, func(cur State, now time.Time) (State, error) {
		if !cur.Frozen {
			return cur, nil
		}
		return State{Offset: now.Sub(c.wall())}, nil
	})
}

// Parse reads the value of the -clock flag: "real" (the wall clock),
// "frozen" (frozen at the wall clock's current instant) or
// "frozen=INSTANT" (an RFC 3339 instant, such as 2026-12-01T09:00:00Z).
func Parse(s string, wall func() time.Time) (State, error) {
	if wall == nil {
		wall = time.Now
	}
	mode, at, hasAt := strings.Cut(strings.TrimSpace(s), "=")
	switch {
	case mode == "real" && !hasAt:
		return State{}, nil
	case mode == "frozen" && !hasAt:
		return normalize(State{Frozen: true, At: wall()}), nil
	case mode == "frozen":
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return State{}, fmt.Errorf("clock %q: the instant must be RFC 3339, such as 2026-12-01T09:00:00Z", s)
		}
		return normalize(State{Frozen: true, At: t}), nil
	}
	return State{}, fmt.Errorf("clock %q: want real, frozen or frozen=INSTANT (RFC 3339)", s)
}

// String writes the state for logs: "real", "real+1h0m0s" (running with an
// offset) or "frozen=INSTANT", the form Parse reads.
func (s State) String() string {
	if s.Frozen {
		return "frozen=" + s.At.Format(time.RFC3339Nano)
	}
	if s.Offset != 0 {
		return "real" + fmt.Sprintf("%+v", s.Offset)
	}
	return "real"
}
