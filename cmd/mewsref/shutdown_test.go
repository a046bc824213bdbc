package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMLetsInFlightRequestsFinish sends SIGTERM while many requests
// are in flight (held by an injected delay) and demands that every one of
// them gets its full 200 answer, no reset, that the process then exits
// cleanly, and that the writes among them are on disk after a restart.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	bin := binary(t)
	db := filepath.Join(t.TempDir(), "shutdown.db")
	const (
		inFlight = 24
		delay    = 1500 * time.Millisecond
	)
	p := start(t, bin, "-db", db, "-faults", fmt.Sprintf("*:delay=%s", delay), "-faults-seed", "1")
	l := newLedger()
	from := time.Now().Add(-time.Minute)
	prep := newAPI(t, p.addr, nil)
	thread, status, err := l.addThread(context.Background(), prep, "prepared")
	if err != nil || status != http.StatusOK {
		t.Fatalf("preparing a thread: %d %v", status, err)
	}

	// One fresh connection per request, so that none is idle (an idle
	// keep-alive connection is closed at shutdown, which is not a reset of
	// a request in flight).
	a := newAPI(t, p.addr, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}})
	var sent, done sync.WaitGroup
	errs := make([]error, inFlight)
	finished := make([]time.Time, inFlight)
	for i := range inFlight {
		sent.Add(1)
		done.Go(func() {
			var once sync.Once
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(sent.Done) },
			})
			defer once.Do(sent.Done)
			var status int
			var err error
			switch i % 3 {
			case 0:
				_, status, err = l.addThread(ctx, a, fmt.Sprintf("in-flight-%d", i))
			case 1:
				status, err = l.addBatch(ctx, a, fmt.Sprintf("in-flight-%d", i), thread, 3)
			default:
				status, _, err = a.call(ctx, "messages/getAll", withCreds("MessageThreadIds", []string{thread}, "Limitation", obj{"Count": 10}))
			}
			finished[i] = time.Now()
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d", status)
			}
			errs[i] = err
		})
	}
	sent.Wait()
	// The requests are written; give the server a moment to accept their
	// connections (microseconds) before the listener closes. The delay
	// keeps them in flight far longer than that.
	time.Sleep(300 * time.Millisecond)
	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done.Wait()
	late := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d in flight at SIGTERM: %v", i, err)
		}
		if finished[i].After(signalled) {
			late++
		}
	}
	if late == 0 {
		t.Fatal("no request was still in flight at SIGTERM; the test proved nothing")
	}
	t.Logf("%d requests in flight at SIGTERM, %d finished after it", inFlight, late)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs)
		}
	case <-time.After(time.Until(waitDeadline(t))):
		t.Fatal("no exit after SIGTERM")
	}
	noFullTokens(t, p.logs.String())
	a.check(t)

	p = start(t, bin, "-db", db)
	t.Logf("after the restart: %v", verify(t, newAPI(t, p.addr, nil), l, from, time.Now().Add(time.Minute), true))
	p.stop(t)
}
