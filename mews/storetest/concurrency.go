package storetest

import (
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// concurrentAdds has many writers add threads and messages at once, as
// concurrent requests do, each reading back what it wrote. No write may fail
// (an engine serializes its writers, it does not refuse them) and every item
// must be readable afterwards.
func concurrentAdds(e *env) {
	const workers, ops = 16, 50
	scope := e.scope(e.e1, e.e2)
	threads := make([][]mews.Thread, workers)
	messages := make([][]mews.Message, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if err := work(e, scope, w, ops, &threads[w], &messages[w]); err != nil {
				e.t.Errorf("worker %d: %v", w, err)
			}
		})
	}
	wg.Wait()
	if e.t.Failed() {
		return
	}

	var wantThreads []mews.Thread
	var ids []uuid.UUID
	for w := range workers {
		for _, th := range threads[w] {
			ids = append(ids, th.ID)
			wantThreads = append(wantThreads, th)
		}
	}
	got := e.threads(mews.ThreadFilter{Scope: scope, IDs: ids, Page: mews.Page{Count: 1000}})
	checkThreads(e.t, "all threads", got, newestFirst(wantThreads, threadCreated))
	for w := range workers {
		var ids []uuid.UUID
		for _, th := range threads[w] {
			ids = append(ids, th.ID)
		}
		got := e.messages(byThreads(scope, ids...))
		checkMessages(e.t, fmt.Sprintf("messages of worker %d", w), got, newestFirst(messages[w], messageCreated))
	}
}

// work is one writer of concurrentAdds: it adds a thread, or a batch of
// messages to one of its threads, ops times, and reads each thread back. It
// keeps every thread and message it added, with the UpdatedUTC that the
// store must have set.
func work(e *env, scope mews.Scope, w, ops int, threads *[]mews.Thread, messages *[]mews.Message) error {
	ens := []uuid.UUID{e.e1, e.e2}
	for i := range ops {
		sec := w*ops + i // distinct per worker, so the expected order is certain
		if i%2 == 0 {
			th := newThread(e.a, ens[i%4/2], sec)
			if err := e.s.MessageThreadsAdd(e.ctx, th); err != nil {
				return fmt.Errorf("add thread: %w", err)
			}
			got, err := e.s.MessageThreadsGetAll(e.ctx, mews.ThreadFilter{
				Scope: scope, IDs: []uuid.UUID{th.ID}, Page: mews.Page{Count: 1},
			})
			if err != nil {
				return fmt.Errorf("read thread: %w", err)
			}
			if len(got) != 1 {
				return fmt.Errorf("read thread %s back: got %d threads", th.ID, len(got))
			}
			*threads = append(*threads, th)
			continue
		}
		th := &(*threads)[len(*threads)-1]
		batch := []mews.Message{
			newMessage(th.ID, sec, mews.SenderApplication),
			newMessage(th.ID, sec, mews.SenderEnterprise),
		}
		if err := e.s.MessagesAdd(e.ctx, scope, batch); err != nil {
			return fmt.Errorf("add messages: %w", err)
		}
		th.UpdatedUTC = at(sec)
		*messages = append(*messages, batch...)
	}
	return nil
}
