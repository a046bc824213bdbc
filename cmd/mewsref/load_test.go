package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/apitest"
	"github.com/mewsref/mewsref/internal/testwait"
)

// Helpers for the tests that load the binary from many goroutines (crash,
// concurrency, shutdown): a client that reports transport errors instead of
// failing the test, a ledger of what was sent and what was acknowledged,
// and a check of the stored data against the ledger.

var demoTokens = []string{
	"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
	"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
}

// noFullTokens fails t when a log holds a whole token.
func noFullTokens(t *testing.T, logs string) {
	t.Helper()
	for _, tok := range demoTokens {
		if strings.Contains(logs, tok) {
			t.Errorf("a log line holds the full token %s", tok)
		}
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Until(testwait.Deadline(t))):
		t.Fatal("no exit after SIGKILL")
	}
}

// api calls the binary from many goroutines. Answers that violate the spec
// are collected, to be reported by check on the test's goroutine.
type api struct {
	addr string
	hc   *http.Client
	v    *apitest.Validator

	mu         sync.Mutex
	violations []string
}

func newAPI(t *testing.T, addr string, hc *http.Client) *api {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	return &api{addr: addr, hc: hc, v: apitest.NewValidator(t)}
}

// call sends body (marshalled) to op. err is a transport error: no answer.
func (a *api) call(ctx context.Context, op string, body any) (status int, out map[string]any, err error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+a.addr+"/api/connector/v1/"+op, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if err := a.v.Check(req, res.StatusCode, res.Header, answer); err != nil {
		a.mu.Lock()
		a.violations = append(a.violations, fmt.Sprintf("%s %d: %v: %s", op, res.StatusCode, err, answer))
		a.mu.Unlock()
	}
	_ = json.Unmarshal(answer, &out)
	return res.StatusCode, out, nil
}

func (a *api) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, v := range a.violations {
		if i == 10 {
			t.Errorf("… and %d more spec violations", len(a.violations)-10)
			break
		}
		t.Errorf("answer violates the spec: %s", v)
	}
}

type obj = map[string]any

func withCreds(kv ...any) obj {
	o := obj{"ClientToken": demoTokens[0], "AccessToken": demoTokens[1], "Client": "e2e load"}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	return o
}

// batch is one messages/add request: its messages' texts are Tag#0, Tag#1…
type batch struct {
	Tag    string
	Thread string
	Size   int
	Acked  []obj // the Message of each item of the 200 answer; nil if none
}

// ledger records every write sent, before it is sent, and its answer.
type ledger struct {
	mu       sync.Mutex
	subjects map[string]bool // of every messageThreads/add sent
	threads  map[string]obj  // acknowledged, by Id, as answered
	batches  map[string]*batch
}

func newLedger() *ledger {
	return &ledger{subjects: map[string]bool{}, threads: map[string]obj{}, batches: map[string]*batch{}}
}

func (l *ledger) counts() (threads, batches, messages int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.batches {
		if b.Acked != nil {
			batches++
			messages += len(b.Acked)
		}
	}
	return len(l.threads), batches, messages
}

// addThread sends a messageThreads/add with a unique Subject. ok: a 200.
func (l *ledger) addThread(ctx context.Context, a *api, subject string) (id string, status int, err error) {
	l.mu.Lock()
	l.subjects[subject] = true
	l.mu.Unlock()
	status, out, err := a.call(ctx, "messageThreads/add", withCreds("OriginalSender", "load", "Subject", subject))
	if err != nil || status != http.StatusOK {
		return "", status, err
	}
	th := out["MessageThreads"].([]any)[0].(obj)
	id = th["Id"].(string)
	l.mu.Lock()
	l.threads[id] = th
	l.mu.Unlock()
	return id, status, nil
}

// addBatch sends a messages/add of size messages to thread.
func (l *ledger) addBatch(ctx context.Context, a *api, tag, thread string, size int) (int, error) {
	b := &batch{Tag: tag, Thread: thread, Size: size}
	items := make([]any, size)
	for i := range items {
		items[i] = obj{"MessageThreadId": thread, "Text": fmt.Sprintf("%s#%d", tag, i), "Identifier": fmt.Sprint(i)}
	}
	l.mu.Lock()
	l.batches[tag] = b
	l.mu.Unlock()
	status, out, err := a.call(ctx, "messages/add", withCreds("Messages", items))
	if err != nil || status != http.StatusOK {
		return status, err
	}
	var acked []obj
	for _, it := range out["Messages"].([]any) {
		acked = append(acked, it.(obj)["Message"].(obj))
	}
	l.mu.Lock()
	b.Acked = acked
	l.mu.Unlock()
	return status, nil
}

// readThreads pages through every thread of the demo integration created
// in [from, to].
func readThreads(t *testing.T, a *api, from, to time.Time) []obj {
	t.Helper()
	var all []obj
	var cursor any
	for page := 0; page < 10_000; page++ {
		status, out, err := a.call(context.Background(), "messageThreads/getAll", withCreds(
			"CreatedUtc", obj{"StartUtc": from.UTC().Format(time.RFC3339), "EndUtc": to.UTC().Format(time.RFC3339)},
			"Limitation", obj{"Count": 1000, "Cursor": cursor}))
		if err != nil || status != http.StatusOK {
			t.Fatalf("reading threads: %d %v %v", status, err, out)
		}
		items := out["MessageThreads"].([]any)
		if len(items) == 0 {
			return all
		}
		for _, it := range items {
			all = append(all, it.(obj))
		}
		cursor = out["Cursor"]
	}
	t.Fatal("reading threads: too many pages")
	return nil
}

// readMessages pages through every message of the threads.
func readMessages(t *testing.T, a *api, threads []string) []obj {
	t.Helper()
	var all []obj
	for chunk := range slices.Chunk(threads, 1000) {
		var cursor any
		for page := 0; ; page++ {
			if page == 10_000 {
				t.Fatal("reading messages: too many pages")
			}
			status, out, err := a.call(context.Background(), "messages/getAll", withCreds(
				"MessageThreadIds", chunk, "Limitation", obj{"Count": 1000, "Cursor": cursor}))
			if err != nil || status != http.StatusOK {
				t.Fatalf("reading messages: %d %v %v", status, err, out)
			}
			items := out["Messages"].([]any)
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				all = append(all, it.(obj))
			}
			cursor = out["Cursor"]
		}
	}
	return all
}

// verify reads everything back through the API and checks it against the
// ledger: every acknowledged thread and message is there, unchanged; there
// is nothing that was not sent, nothing twice; each batch is all there or
// not at all; and each thread's UpdatedUtc is its newest message's. With
// strict, every write sent must have been acknowledged.
func verify(t *testing.T, a *api, l *ledger, from, to time.Time, strict bool) (v verified) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()

	stored := map[string]obj{}
	seenSubject := map[string]bool{}
	var ids []string
	for _, th := range readThreads(t, a, from, to) {
		id, subject := th["Id"].(string), th["Subject"].(string)
		if !l.subjects[subject] {
			t.Errorf("a thread that was never sent: %v", th)
		}
		if seenSubject[subject] {
			t.Errorf("thread %q stored twice", subject)
		}
		seenSubject[subject] = true
		stored[id] = th
		ids = append(ids, id)
	}
	for id, want := range l.threads {
		got, ok := stored[id]
		if !ok {
			t.Errorf("acknowledged thread %s (%s) is lost", id, want["Subject"])
			continue
		}
		for _, k := range []string{"Id", "OriginalSender", "Subject", "CreatedUtc", "IsResolved"} {
			if got[k] != want[k] {
				t.Errorf("thread %s: %s is %v, was acknowledged as %v", id, k, got[k], want[k])
			}
		}
		v.threads++
	}
	v.unackedThreads = len(l.subjects) - len(l.threads)
	v.unackedThreadsStored = len(stored) - v.threads
	if strict && len(stored) != len(l.subjects) {
		t.Errorf("%d threads sent, %d stored", len(l.subjects), len(stored))
	}

	byTag := map[string][]obj{}
	newest := map[string]string{} // thread -> newest message CreatedUtc
	for _, m := range readMessages(t, a, ids) {
		tag, _, ok := strings.Cut(m["Text"].(string), "#")
		if b := l.batches[tag]; !ok || b == nil || b.Thread != m["MessageThreadId"] {
			t.Errorf("a message that was never sent: %v", m)
			continue
		}
		byTag[tag] = append(byTag[tag], m)
		if c := m["CreatedUtc"].(string); c > newest[m["MessageThreadId"].(string)] {
			newest[m["MessageThreadId"].(string)] = c
		}
	}
	for tag, b := range l.batches {
		got := byTag[tag]
		switch {
		case len(got) != 0 && len(got) != b.Size:
			t.Errorf("batch %s half-applied: %d of %d messages stored", tag, len(got), b.Size)
		case b.Acked != nil && len(got) != b.Size:
			t.Errorf("acknowledged batch %s is lost: %d of %d messages stored", tag, len(got), b.Size)
		case strict && b.Acked == nil:
			t.Errorf("batch %s was not acknowledged", tag)
		}
		if b.Acked == nil {
			v.unackedBatches++
			if len(got) > 0 {
				v.unackedBatchesStored++
			}
			continue
		}
		stored := map[string]obj{}
		for _, m := range got {
			stored[m["Id"].(string)] = m
		}
		for _, want := range b.Acked {
			m, ok := stored[want["Id"].(string)]
			if !ok {
				t.Errorf("acknowledged message %s (%s) is lost", want["Id"], want["Text"])
				continue
			}
			if !equalJSON(m, want) {
				t.Errorf("message %s stored as %v, acknowledged as %v", want["Id"], m, want)
			}
			v.messages++
		}
	}
	for id, th := range stored {
		want := th["CreatedUtc"].(string)
		if n := newest[id]; n > want {
			want = n
		}
		if th["UpdatedUtc"] != want {
			t.Errorf("thread %s: UpdatedUtc %v, want %s (its newest message)", id, th["UpdatedUtc"], want)
		}
	}
	return v
}

// verified counts what verify checked: acknowledged writes found intact,
// and writes sent without an answer (killed) that turned out stored.
type verified struct {
	threads, messages                    int
	unackedThreads, unackedThreadsStored int
	unackedBatches, unackedBatchesStored int
}

func (v verified) String() string {
	return fmt.Sprintf("%d acknowledged threads and %d acknowledged messages intact; unanswered writes stored: %d of %d threads, %d of %d batches (whole)",
		v.threads, v.messages, v.unackedThreadsStored, v.unackedThreads, v.unackedBatchesStored, v.unackedBatches)
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
