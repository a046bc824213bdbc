package storetest

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// adminTests check mews.Admin, which every engine implements beside Store.
func adminTests() []test {
	return []test{
		{"AdminThreadGet", adminThreadGet},
		{"AdminEnterpriseReplyMovesUpdated", adminEnterpriseReplyMovesUpdated},
		{"AdminResolveAndReopen", adminResolveAndReopen},
		{"AdminEnterpriseThreadsPages", adminEnterpriseThreadsPages},
		{"AdminReset", adminReset},
		{"AdminWebhooksSet", adminWebhooksSet},
		{"AdminOutboxQueuedWithMessages", adminOutboxQueuedWithMessages},
		{"AdminOutboxNothingWhenAddFails", adminOutboxNothingWhenAddFails},
		{"AdminDeliveriesClaimLeaseAndRecord", adminDeliveriesClaimLeaseAndRecord},
		{"AdminDeliveriesClaimConcurrently", adminDeliveriesClaimConcurrently},
	}
}

// admin returns the store's mews.Admin side.
func (e *env) admin() mews.Admin {
	e.t.Helper()
	a, ok := e.s.(mews.Admin)
	if !ok {
		e.t.Fatalf("%T does not implement mews.Admin", e.s)
	}
	return a
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if mews.ErrorCode(err) != code || err == nil {
		t.Fatalf("got %v, want a %s error", err, code)
	}
}

func adminThreadGet(e *env) {
	th := e.thread(e.a, e.e1, 0)
	got, err := e.admin().ThreadGet(e.ctx, th.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	checkThreads(e.t, "ThreadGet", []mews.Thread{got}, []mews.Thread{th})
	_, err = e.admin().ThreadGet(e.ctx, uuid.New())
	wantCode(e.t, err, mews.ENOTFOUND)
}

// An enterprise reply is MessagesAdd in the scope of the thread's owner with
// Sender Enterprise (see mews.Admin): it must move UpdatedUTC and keep the
// sender.
func adminEnterpriseReplyMovesUpdated(e *env) {
	th := e.thread(e.b, e.e2, 0)
	owner := mews.Scope{IntegrationID: th.IntegrationID, EnterpriseIDs: []uuid.UUID{th.EnterpriseID}}
	m := e.addMessages(owner, newMessage(th.ID, 30, mews.SenderEnterprise))[0]
	got, err := e.admin().ThreadGet(e.ctx, th.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if !got.UpdatedUTC.Equal(at(30)) {
		e.t.Errorf("UpdatedUTC = %s, want %s", got.UpdatedUTC, at(30))
	}
	msgs := e.messages(byThreads(owner, th.ID))
	if len(msgs) != 1 || msgs[0].Sender != mews.SenderEnterprise || msgs[0].ID != m.ID {
		e.t.Errorf("messages = %v, want the enterprise's reply", msgs)
	}
}

func adminResolveAndReopen(e *env) {
	th := e.thread(e.a, e.e1, 0)
	got, err := e.admin().ThreadSetResolved(e.ctx, th.ID, true)
	if err != nil {
		e.t.Fatal(err)
	}
	if !got.IsResolved || !got.UpdatedUTC.Equal(th.UpdatedUTC) {
		e.t.Errorf("after resolve: %s", threadString(got))
	}
	if seen := e.threadByID(e.scope(e.e1), th.ID); !seen.IsResolved {
		e.t.Error("the integration does not see the thread resolved")
	}
	if got, err = e.admin().ThreadSetResolved(e.ctx, th.ID, false); err != nil || got.IsResolved {
		e.t.Errorf("after reopen: %v %v", threadString(got), err)
	}
	_, err = e.admin().ThreadSetResolved(e.ctx, uuid.New(), true)
	wantCode(e.t, err, mews.ENOTFOUND)
}

func adminEnterpriseThreadsPages(e *env) {
	var want []mews.Thread
	for i := range 7 {
		want = append(want, e.thread([]uuid.UUID{e.a, e.b}[i%2], e.e1, i/3))
	}
	e.thread(e.a, e.e2, 1) // another enterprise
	want = newestFirst(want, threadCreated)
	got := walk(e.t, 3, func(cursor *uuid.UUID) ([]mews.Thread, error) {
		return e.admin().EnterpriseThreads(e.ctx, e.e1, mews.Page{Cursor: cursor, Count: 3})
	}, threadID, nil)
	checkThreads(e.t, "EnterpriseThreads", got, want)

	other := e.thread(e.a, e.e3, 0)
	_, err := e.admin().EnterpriseThreads(e.ctx, e.e1, mews.Page{Cursor: &other.ID, Count: 3})
	wantInvalid(e.t, err, other.ID)
}

func adminReset(e *env) {
	e.setWebhooks(e.a, "http://127.0.0.1:1/hook")
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))
	if err := e.admin().Reset(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if got := e.threads(mews.ThreadFilter{Scope: e.scope(e.e1), Created: all(), Page: mews.Page{Count: 10}}); len(got) != 0 {
		e.t.Errorf("threads after reset: %d", len(got))
	}
	if got := e.deliveries(nil); len(got) != 0 {
		e.t.Errorf("deliveries after reset: %d", len(got))
	}
	if hooks, _ := e.admin().Webhooks(e.ctx); len(hooks[e.a]) != 1 {
		e.t.Errorf("webhooks after reset = %v, want them kept", hooks)
	}
	// The store works as before.
	th = e.thread(e.a, e.e1, 5)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 6, mews.SenderApplication))
}

func (e *env) setWebhooks(i uuid.UUID, urls ...string) {
	e.t.Helper()
	if err := e.admin().WebhooksSet(e.ctx, i, urls); err != nil {
		e.t.Fatalf("WebhooksSet: %v", err)
	}
}

func (e *env) deliveries(i *uuid.UUID) []mews.Delivery {
	e.t.Helper()
	ds, err := e.admin().Deliveries(e.ctx, i, 1000)
	if err != nil {
		e.t.Fatalf("Deliveries: %v", err)
	}
	return ds
}

func adminWebhooksSet(e *env) {
	e.setWebhooks(e.a, "http://b.example/h", "http://a.example/h")
	e.setWebhooks(e.b, "http://c.example/h")
	e.setWebhooks(e.a, "http://d.example/h", "http://a.example/h")
	got, err := e.admin().Webhooks(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if !slices.Equal(got[e.a], []string{"http://a.example/h", "http://d.example/h"}) || !slices.Equal(got[e.b], []string{"http://c.example/h"}) {
		e.t.Errorf("Webhooks = %v", got)
	}
	e.setWebhooks(e.b)
	if got, _ = e.admin().Webhooks(e.ctx); len(got[e.b]) != 0 {
		e.t.Errorf("after clearing: %v", got)
	}
}

type payload struct {
	EnterpriseID  uuid.UUID `json:"EnterpriseId"`
	IntegrationID uuid.UUID `json:"IntegrationId"`
	Events        []struct {
		Discriminator string
		Value         struct {
			ID uuid.UUID `json:"Id"`
		}
	}
}

// One batch over two enterprises queues one webhook per enterprise and URL,
// each with one MessageAdded event per message of that enterprise.
func adminOutboxQueuedWithMessages(e *env) {
	e.setWebhooks(e.a, "http://x.example/1", "http://x.example/2")
	t1, t2 := e.thread(e.a, e.e1, 0), e.thread(e.a, e.e2, 0)
	e.thread(e.b, e.e1, 0)
	msgs := e.addMessages(e.scope(e.e1, e.e2),
		newMessage(t1.ID, 1, mews.SenderApplication), newMessage(t2.ID, 1, mews.SenderApplication),
		newMessage(t1.ID, 1, mews.SenderEnterprise))
	ds := e.deliveries(&e.a)
	if len(ds) != 4 {
		e.t.Fatalf("got %d deliveries, want 4 (2 enterprises × 2 URLs)", len(ds))
	}
	events := map[string][]uuid.UUID{}
	for _, d := range ds {
		if d.Status != mews.DeliveryPending || d.Attempts != 0 || d.IntegrationID != e.a || !d.CreatedUTC.Equal(at(1)) {
			e.t.Errorf("delivery %+v", d)
		}
		var p payload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			e.t.Fatal(err)
		}
		if p.IntegrationID != e.a {
			e.t.Errorf("payload IntegrationId %s", p.IntegrationID)
		}
		for _, ev := range p.Events {
			if ev.Discriminator != "MessageAdded" {
				e.t.Errorf("event %q", ev.Discriminator)
			}
			events[d.URL+" "+p.EnterpriseID.String()] = append(events[d.URL+" "+p.EnterpriseID.String()], ev.Value.ID)
		}
	}
	for _, url := range []string{"http://x.example/1", "http://x.example/2"} {
		if got := events[url+" "+e.e1.String()]; !slices.Equal(got, []uuid.UUID{msgs[0].ID, msgs[2].ID}) {
			e.t.Errorf("%s, E1: events %v", url, got)
		}
		if got := events[url+" "+e.e2.String()]; !slices.Equal(got, []uuid.UUID{msgs[1].ID}) {
			e.t.Errorf("%s, E2: events %v", url, got)
		}
	}
	if got := e.deliveries(&e.b); len(got) != 0 {
		e.t.Errorf("integration B without webhooks got %d deliveries", len(got))
	}
}

func adminOutboxNothingWhenAddFails(e *env) {
	e.setWebhooks(e.a, "http://x.example/1")
	th := e.thread(e.a, e.e1, 0)
	err := e.s.MessagesAdd(e.ctx, e.scope(e.e1), []mews.Message{
		newMessage(th.ID, 1, mews.SenderApplication), newMessage(uuid.New(), 1, mews.SenderApplication)})
	wantInvalid(e.t, err, uuid.Nil)
	if got := e.deliveries(nil); len(got) != 0 {
		e.t.Errorf("a failed add queued %d deliveries", len(got))
	}
}

func adminDeliveriesClaimLeaseAndRecord(e *env) {
	e.setWebhooks(e.a, "http://x.example/1")
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 2, mews.SenderApplication))
	a := e.admin()
	now := at(10)
	lease := time.Minute
	if got, err := a.DeliveriesClaim(e.ctx, at(0), lease, 10); err != nil || len(got) != 0 {
		e.t.Fatalf("claim before due: %d deliveries, %v", len(got), err)
	}
	first, err := a.DeliveriesClaim(e.ctx, now, lease, 1)
	if err != nil || len(first) != 1 {
		e.t.Fatalf("claim 1: %v %v", first, err)
	}
	second, err := a.DeliveriesClaim(e.ctx, now, lease, 10)
	if err != nil || len(second) != 1 || second[0].ID == first[0].ID {
		e.t.Fatalf("claim 2 = %v %v, want the other delivery only", second, err)
	}
	if again, _ := a.DeliveriesClaim(e.ctx, now.Add(lease/2), lease, 10); len(again) != 0 {
		e.t.Fatalf("claimed %d leased deliveries", len(again))
	}
	// The first fails and is due again later; the second is delivered.
	retryAt := now.Add(5 * time.Second)
	if err := a.DeliveryRecord(e.ctx, mews.DeliveryOutcome{ID: first[0].ID, At: now, Status: mews.DeliveryPending,
		StatusCode: 503, Error: "503 Service Unavailable", NextAttempt: retryAt}); err != nil {
		e.t.Fatal(err)
	}
	if err := a.DeliveryRecord(e.ctx, mews.DeliveryOutcome{ID: second[0].ID, At: now, Status: mews.DeliveryDelivered, StatusCode: 204}); err != nil {
		e.t.Fatal(err)
	}
	byID := map[int64]mews.Delivery{}
	for _, d := range e.deliveries(&e.a) {
		byID[d.ID] = d
	}
	f, s := byID[first[0].ID], byID[second[0].ID]
	if f.Status != mews.DeliveryPending || f.Attempts != 1 || f.LastStatusCode != 503 || f.LastError == "" ||
		!f.NextAttemptUTC.Equal(retryAt) || !f.LastAttemptUTC.Equal(now) {
		e.t.Errorf("failed delivery: %+v", f)
	}
	if s.Status != mews.DeliveryDelivered || s.Attempts != 1 || s.LastStatusCode != 204 || !s.NextAttemptUTC.IsZero() {
		e.t.Errorf("delivered: %+v", s)
	}
	// Due again at retryAt, even though its lease was longer; never the
	// delivered one.
	got, err := a.DeliveriesClaim(e.ctx, retryAt, lease, 10)
	if err != nil || len(got) != 1 || got[0].ID != f.ID {
		e.t.Fatalf("claim at retry time = %v %v", got, err)
	}
	if err := a.DeliveryRecord(e.ctx, mews.DeliveryOutcome{ID: f.ID, At: retryAt, Status: mews.DeliveryFailed, Error: "connection refused"}); err != nil {
		e.t.Fatal(err)
	}
	if got, _ := a.DeliveriesClaim(e.ctx, retryAt.Add(time.Hour), lease, 10); len(got) != 0 {
		e.t.Errorf("claimed a failed delivery")
	}
}

// Dispatchers claiming at once (of one process, or of several on one
// database) never get the same delivery: each is claimed exactly once.
func adminDeliveriesClaimConcurrently(e *env) {
	e.setWebhooks(e.a, "http://x.example/1")
	th := e.thread(e.a, e.e1, 0)
	const n = 60
	for i := range n {
		e.addMessages(e.scope(e.e1), newMessage(th.ID, i, mews.SenderApplication))
	}
	now := at(1000)
	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				ds, err := e.admin().DeliveriesClaim(e.ctx, now, time.Hour, 4)
				if err != nil {
					e.t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		e.t.Errorf("claimed %d deliveries, want %d", len(claimed), n)
	}
	for id, times := range claimed {
		if times != 1 {
			e.t.Errorf("delivery %d claimed %d times", id, times)
		}
	}
}
