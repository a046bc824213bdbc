package clock_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// wall is a wall clock that moves only when told.
type wall struct {
	mu sync.Mutex
	t  time.Time
}

func (w *wall) now() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.t }
func (w *wall) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = w.t.Add(d)
}

func TestFrozenSetAdvanceRelease(t *testing.T) {
	ctx := context.Background()
	w := &wall{t: t0}
	c := clock.New(w.now, clock.State{Frozen: true, At: t0.Add(time.Hour)})
	w.add(time.Minute)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("frozen clock moved with the wall clock: %s", got)
	}
	if _, err := c.Advance(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now(), t0.Add(time.Hour+90*time.Second); !got.Equal(want) {
		t.Fatalf("after advance: %s, want %s", got, want)
	}
	if _, err := c.Set(ctx, t0); !errors.Is(err, clock.ErrBackwards) {
		t.Fatalf("set to the past: %v, want ErrBackwards", err)
	}
	if _, err := c.Advance(ctx, -time.Second); !errors.Is(err, clock.ErrBackwards) {
		t.Fatalf("negative advance: %v, want ErrBackwards", err)
	}
	target := t0.Add(72 * time.Hour)
	if _, err := c.Set(ctx, target); err != nil {
		t.Fatal(err)
	}
	st, err := c.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Frozen || !c.Now().Equal(target) {
		t.Fatalf("released: %+v reads %s, want running from %s", st, c.Now(), target)
	}
	w.add(5 * time.Second)
	if got, want := c.Now(), target.Add(5*time.Second); !got.Equal(want) {
		t.Fatalf("released clock: %s, want %s (running from the frozen instant)", got, want)
	}
	// A running clock moves ahead and keeps running; set freezes it.
	if _, err := c.Advance(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	w.add(time.Second)
	if got, want := c.Now(), target.Add(time.Hour+6*time.Second); !got.Equal(want) {
		t.Fatalf("running clock after advance: %s, want %s", got, want)
	}
	st, err = c.Set(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	w.add(time.Second)
	if got, want := c.Now(), target.Add(time.Hour+6*time.Second); !st.Frozen || !got.Equal(want) {
		t.Fatalf("set with no instant: %+v reads %s, want frozen at %s", st, got, want)
	}
	if st := c.State(); st.Version != 5 {
		t.Fatalf("state %+v: want version 5", st)
	}
}

func TestChangedWakes(t *testing.T) {
	c := clock.Frozen(t0)
	ch := c.Changed()
	select {
	case <-ch:
		t.Fatal("closed before any change")
	default:
	}
	if _, err := c.Advance(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("not closed by the change")
	}
}

func TestParse(t *testing.T) {
	w := &wall{t: t0.Add(123456789)}
	for _, tc := range []struct {
		in   string
		want clock.State
	}{
		{"real", clock.State{}},
		{"frozen", clock.State{Frozen: true, At: t0.Add(123456000)}},
		{"frozen=2030-01-02T03:04:05.5Z", clock.State{Frozen: true, At: time.Date(2030, 1, 2, 3, 4, 5, 5e8, time.UTC)}},
		{"frozen=2030-01-02T04:04:05+01:00", clock.State{Frozen: true, At: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}},
	} {
		got, err := clock.Parse(tc.in, w.now)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "fake", "real=2030-01-01T00:00:00Z", "frozen=tomorrow", "frozen=2030-01-01"} {
		if _, err := clock.Parse(bad, w.now); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// memStore is a Store in memory, as a database would keep it.
type memStore struct {
	mu sync.Mutex
	st clock.State
}

func (m *memStore) ClockLoad(context.Context) (clock.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memStore) ClockSwap(_ context.Context, prev int64, next clock.State) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.Version != prev {
		return false, nil
	}
	m.st = next
	return true, nil
}

// Two processes sharing one store: a change by one is seen by the other
// after Sync, and concurrent advances all count.
func TestShared(t *testing.T) {
	ctx := context.Background()
	store := &memStore{}
	a, b := clock.Real(), clock.Real()
	frozen := clock.State{Frozen: true, At: t0}
	if err := a.Share(ctx, store, &frozen); err != nil {
		t.Fatal(err)
	}
	if err := b.Share(ctx, store, nil); err != nil {
		t.Fatal(err)
	}
	if !b.Now().Equal(t0) {
		t.Fatalf("b did not adopt the stored state: %s", b.Now())
	}
	ch := b.Changed()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := a.Advance(ctx, time.Second); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := b.Advance(ctx, time.Second); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := t0.Add(40 * time.Second)
	if !a.Now().Equal(want) || !b.Now().Equal(want) {
		t.Fatalf("a %s, b %s; want both %s", a.Now(), b.Now(), want)
	}
	select {
	case <-ch:
	default:
		t.Fatal("b's Changed not closed")
	}
	if _, err := a.Set(ctx, t0); !errors.Is(err, clock.ErrBackwards) {
		t.Fatalf("set to the past through a: %v", err)
	}
}
