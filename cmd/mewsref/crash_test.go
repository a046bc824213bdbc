package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/testwait"
)

// TestCrashSafety kills the server with SIGKILL at a random moment while
// writers add threads and batches of messages, restarts it on the same
// file, and checks, through the API, that every write answered 200 is
// there unchanged and that no batch is half-applied. It repeats on the same
// file, so later rounds check the earlier rounds' data again.
func TestCrashSafety(t *testing.T) {
	bin := binary(t)
	db := filepath.Join(t.TempDir(), "crash.db")
	const (
		rounds  = 4
		writers = 8
	)
	l := newLedger()
	from := time.Now().Add(-time.Minute)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	for round := range rounds {
		p := start(t, bin, "-db", db)
		a := newAPI(t, p.addr, nil)
		if round > 0 {
			t.Logf("round %d: after the restart: %v", round, verify(t, a, l, from, time.Now().Add(time.Minute), false))
			if t.Failed() {
				t.FailNow()
			}
		}
		threadsBefore, _, messagesBefore := l.counts()

		var wg sync.WaitGroup
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for w := range writers {
			wg.Go(func() { crashWriter(ctx, a, l, fmt.Sprintf("r%dw%d", round, w)) })
		}
		// Let the writers get going, then kill at a random moment.
		for deadline := testwait.Deadline(t); ; time.Sleep(10 * time.Millisecond) {
			if th, _, _ := l.counts(); th >= threadsBefore+writers {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the writers made no progress")
			}
		}
		time.Sleep(time.Duration(rng.Int64N(int64(400 * time.Millisecond))))
		p.kill(t)
		wg.Wait() // each writer stops at its first failed request
		cancel()
		noFullTokens(t, p.logs.String())
		a.check(t)
		threads, _, messages := l.counts()
		t.Logf("round %d: killed after %d more acknowledged threads and %d messages", round, threads-threadsBefore, messages-messagesBefore)
	}

	p := start(t, bin, "-db", db)
	a := newAPI(t, p.addr, nil)
	t.Logf("after %d kills: %v", rounds, verify(t, a, l, from, time.Now().Add(time.Minute), false))
	p.stop(t)
	noFullTokens(t, p.logs.String())
	a.check(t)
}

// crashWriter adds a thread, then batches of 1 to 5 messages to it and now
// and then another thread, until a request fails (the server was killed)
// or answers anything but 200 (a bug).
func crashWriter(ctx context.Context, a *api, l *ledger, name string) {
	thread := ""
	for i := range 100_000 {
		var status int
		var err error
		if thread == "" || i%10 == 0 {
			var id string
			if id, status, err = l.addThread(ctx, a, fmt.Sprintf("%s-t%d", name, i)); id != "" {
				thread = id
			}
		} else {
			status, err = l.addBatch(ctx, a, fmt.Sprintf("%s-b%d", name, i), thread, 1+i%5)
		}
		if err != nil {
			return
		}
		if status != http.StatusOK {
			a.mu.Lock()
			a.violations = append(a.violations, fmt.Sprintf("%s: a write was answered %d", name, status))
			a.mu.Unlock()
			return
		}
	}
}
