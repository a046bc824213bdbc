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

	"github.com/mewsref/mewsref/internal/testwait"
)

// TestSIGTERMLetsInFlightRequestsFinish sends SIGTERM while many requests
// are in flight (held by the delay of fault rules) and demands that every
// one of them gets its full 200 answer, no reset, that the process then
// exits cleanly, and that the writes among them are on disk after a
// restart.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	bin := binary(t)
	db := filepath.Join(t.TempDir(), "shutdown.db")
	const (
		inFlight = 24
		delay    = 1500 * time.Millisecond
	)
	p := start(t, bin, "-db", db, "-admin-token", e2eAdmin)
	l := newLedger()
	from := time.Now().Add(-time.Minute)
	prep := newAPI(t, p.addr, nil)
	thread, status, err := l.addThread(context.Background(), prep, "prepared")
	if err != nil || status != http.StatusOK {
		t.Fatalf("preparing a thread: %d %v", status, err)
	}
	// A rule per operation holds each of the requests below: when every
	// rule has struck all its requests, the server has accepted each
	// request's connection and is serving it.
	ops := []string{"messageThreads/add", "messages/add", "messages/getAll"} // by i % 3, below
	for _, op := range ops {
		adminPost(t, p.addr, "faults/add", obj{"Operation": op, "Count": inFlight / len(ops), "DelayMs": delay.Milliseconds()})
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
	// The requests are written; SIGTERM closes the listener, and a
	// connection the server has yet to accept would be reset with it.
	waitStruck(t, p.addr, &done)
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
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("no exit after SIGTERM")
	}
	noFullTokens(t, p.logs.String())
	a.check(t)

	p = start(t, bin, "-db", db)
	t.Logf("after the restart: %v", verify(t, newAPI(t, p.addr, nil), l, from, time.Now().Add(time.Minute), true))
	p.stop(t)
}

// waitStruck waits until the fault rules of the server at addr have struck
// every request they were added for (Remaining 0 for all), failing t if the
// requests end first (done) or the test's wait deadline passes.
func waitStruck(t *testing.T, addr string, done *sync.WaitGroup) {
	t.Helper()
	ended := make(chan struct{})
	go func() { done.Wait(); close(ended) }()
	deadline := time.After(time.Until(testwait.Deadline(t)))
	for {
		rules := adminPost(t, addr, "faults/getAll", obj{})["FaultRules"].([]any)
		left := 0
		for _, r := range rules {
			left += int(r.(obj)["Remaining"].(float64))
		}
		if left == 0 {
			return
		}
		select {
		case <-ended:
			t.Fatalf("the requests ended before the rules struck them all: %v", rules)
		case <-deadline:
			t.Fatalf("the rules have yet to strike %d requests: %v", left, rules)
		case <-time.After(10 * time.Millisecond): // the next look
		}
	}
}
