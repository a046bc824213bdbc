package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentWritersOnSQLite runs 32 writers against the binary on a
// SQLite file for 10 seconds: no answer may be a 5xx (no SQLITE_BUSY or
// "database is locked" may leak), every write must be acknowledged, and
// every acknowledged write must read back afterwards. A writer also reads
// now and then, so readers and the writer meet in the WAL.
func TestConcurrentWritersOnSQLite(t *testing.T) {
	bin := binary(t)
	const (
		writers  = 32
		duration = 10 * time.Second
	)
	p := start(t, bin, "-db", filepath.Join(t.TempDir(), "concurrent.db"))
	a := newAPI(t, p.addr, nil)
	l := newLedger()
	from := time.Now().Add(-time.Minute)

	var requests, failures atomic.Int64
	stop := time.Now().Add(duration) // no new request after stop; none is cut off
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			thread := ""
			for i := 0; i < 1_000_000 && time.Now().Before(stop); i++ {
				var status int
				var err error
				switch {
				case thread == "" || i%8 == 0:
					var id string
					if id, status, err = l.addThread(context.Background(), a, fmt.Sprintf("w%d-t%d", w, i)); id != "" {
						thread = id
					}
				case i%8 == 4:
					status, _, err = a.call(context.Background(), "messages/getAll",
						withCreds("MessageThreadIds", []string{thread}, "Limitation", obj{"Count": 10}))
				default:
					status, err = l.addBatch(context.Background(), a, fmt.Sprintf("w%d-b%d", w, i), thread, 1+i%3)
				}
				requests.Add(1)
				if err != nil || status != http.StatusOK {
					failures.Add(1)
					a.mu.Lock()
					a.violations = append(a.violations, fmt.Sprintf("writer %d request %d: status %d, error %v", w, i, status, err))
					a.mu.Unlock()
					if err != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	a.check(t)
	threads, batches, messages := l.counts()
	t.Logf("%d writers, %s: %d requests (%d failed), %d threads and %d batches (%d messages) acknowledged",
		writers, duration, requests.Load(), failures.Load(), threads, batches, messages)
	if threads < writers {
		t.Fatalf("only %d threads were added", threads)
	}
	t.Logf("read back: %v", verify(t, a, l, from, time.Now().Add(time.Minute), true))
	p.stop(t)
	noFullTokens(t, p.logs.String())
}
