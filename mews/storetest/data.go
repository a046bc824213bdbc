package storetest

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// dataTests check mews.Data: fixtures imported as given and snapshots
// exported in the order that import writes them.
func dataTests() []test {
	return []test{
		{"DataExportResetImportSameAnswers", dataExportResetImportSameAnswers},
		{"DataImportKeepsWhatItSays", dataImportKeepsWhatItSays},
		{"DataImportIdempotentByID", dataImportIdempotentByID},
		{"DataImportAllOrNothing", dataImportAllOrNothing},
		{"DataImportConflictingIDs", dataImportConflictingIDs},
		{"DataImportIntoStoredThread", dataImportIntoStoredThread},
		{"DataImportWebhooksOnlyWhenAsked", dataImportWebhooksOnlyWhenAsked},
		{"DataExportFilters", dataExportFilters},
		{"DeliveryRedeliver", deliveryRedeliver},
		{"DeliveryDefer", deliveryDefer},
	}
}

func (e *env) dataImport(threads []mews.Thread, msgs []mews.Message, webhooksAt *time.Time) mews.ImportCounts {
	e.t.Helper()
	c, err := e.admin().DataImport(e.ctx, threads, msgs, webhooksAt)
	if err != nil {
		e.t.Fatalf("DataImport(%d threads, %d messages): %v", len(threads), len(msgs), err)
	}
	return c
}

func (e *env) dataExport(f mews.ExportFilter) ([]mews.Thread, []mews.Message) {
	e.t.Helper()
	ts, ms, err := e.admin().DataExport(e.ctx, f)
	if err != nil {
		e.t.Fatalf("DataExport: %v", err)
	}
	return ts, ms
}

// answers is every answer the stored data gives to the read operations, for
// the integrations and enterprises of env, each page walked with count: the
// threads of every scope (by Created and by Updated), the messages of every
// thread and of all threads of a scope at once, and the admin list of each
// enterprise.
func (e *env) answers(count int) string {
	e.t.Helper()
	var b strings.Builder
	enterprises := []uuid.UUID{e.e1, e.e2, e.e3}
	for _, in := range []uuid.UUID{e.a, e.b} {
		for mask := 1; mask < 8; mask++ {
			var es []uuid.UUID
			for i, en := range enterprises {
				if mask&(1<<i) != 0 {
					es = append(es, en)
				}
			}
			scope := mews.Scope{IntegrationID: in, EnterpriseIDs: es}
			for _, f := range []mews.ThreadFilter{{Scope: scope, Created: all()}, {Scope: scope, Updated: all()}} {
				ts := e.walkThreads(f, count, nil)
				fmt.Fprintf(&b, "threads %s %v created %t:\n", in, es, f.Created != nil)
				var ids []uuid.UUID
				for _, t := range ts {
					b.WriteString(threadString(t) + "\n")
					ids = append(ids, t.ID)
				}
				if len(ids) > 0 {
					fmt.Fprintf(&b, "messages of all:\n")
					for _, m := range e.walkMessages(mews.MessageFilter{Scope: scope, ThreadIDs: ids, Created: all()}, count, nil) {
						b.WriteString(messageString(m) + "\n")
					}
				}
			}
		}
	}
	for _, en := range enterprises {
		fmt.Fprintf(&b, "enterprise %s:\n", en)
		ts := walk(e.t, count, func(cursor *uuid.UUID) ([]mews.Thread, error) {
			return e.admin().EnterpriseThreads(e.ctx, en, mews.Page{Cursor: cursor, Count: count})
		}, threadID, nil)
		for _, t := range ts {
			b.WriteString(threadString(t) + "\n")
			owner := mews.Scope{IntegrationID: t.IntegrationID, EnterpriseIDs: []uuid.UUID{t.EnterpriseID}}
			for _, m := range e.walkMessages(mews.MessageFilter{Scope: owner, ThreadIDs: []uuid.UUID{t.ID}}, count, nil) {
				b.WriteString(" " + messageString(m) + "\n")
			}
		}
	}
	return b.String()
}

// randomData stores random threads and messages through the ordinary
// operations: many share a second (and a fraction of one), so that the
// order of insertion decides their order.
func (e *env) randomData(r *rand.Rand) {
	enterprises := []uuid.UUID{e.e1, e.e2, e.e3}
	var threads []mews.Thread
	for range 5 + r.Intn(40) {
		in := e.a
		if r.Intn(3) == 0 {
			in = e.b
		}
		th := newThread(in, enterprises[r.Intn(3)], r.Intn(8))
		th.CreatedUTC = th.CreatedUTC.Add(time.Duration(r.Intn(3)) * 250 * time.Millisecond)
		th.UpdatedUTC = th.CreatedUTC
		threads = append(threads, e.addThread(th))
	}
	for range r.Intn(30) {
		var batch []mews.Message
		owner := threads[r.Intn(len(threads))]
		for range 1 + r.Intn(4) {
			th := threads[r.Intn(len(threads))]
			if th.IntegrationID != owner.IntegrationID {
				continue
			}
			sender := mews.SenderApplication
			if r.Intn(2) == 0 {
				sender = mews.SenderEnterprise
			}
			m := newMessage(th.ID, 0, sender)
			m.CreatedUTC = th.CreatedUTC.Add(time.Duration(r.Intn(12)) * 500 * time.Millisecond)
			batch = append(batch, m)
		}
		if len(batch) > 0 {
			e.addMessages(mews.Scope{IntegrationID: owner.IntegrationID, EnterpriseIDs: enterprises}, batch...)
		}
	}
	for _, th := range threads {
		if r.Intn(3) == 0 {
			if _, err := e.admin().ThreadSetResolved(e.ctx, th.ID, true); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// The property that snapshots promise: export, reset and import of what was
// exported gives the same answer to every read, in the same order.
func dataExportResetImportSameAnswers(e *env) {
	r := newRand(e.t)
	for round := range 8 {
		e.a, e.b = uuid.New(), uuid.New()
		e.randomData(r)
		count := 1 + r.Intn(7)
		before := e.answers(count)
		ts, ms := e.dataExport(mews.ExportFilter{})
		if err := e.admin().Reset(e.ctx); err != nil {
			e.t.Fatal(err)
		}
		if again := e.answers(count); again == before {
			e.t.Fatalf("round %d: reset changed no answer", round)
		}
		// Export is newest first, import takes the order of insertion.
		slices.Reverse(ts)
		slices.Reverse(ms)
		c := e.dataImport(ts, ms, nil)
		if c.AddedThreads != len(ts) || c.AddedMessages != len(ms) || c.ExistingThreads+c.ExistingMessages != 0 {
			e.t.Errorf("round %d: counts %+v, want %d threads and %d messages added", round, c, len(ts), len(ms))
		}
		if after := e.answers(count); after != before {
			e.t.Fatalf("round %d (count %d): answers differ after export, reset, import:\nbefore:\n%s\nafter:\n%s", round, count, before, after)
		}
		if err := e.admin().Reset(e.ctx); err != nil {
			e.t.Fatal(err)
		}
	}
}

func dataImportKeepsWhatItSays(e *env) {
	th := newThread(e.a, e.e1, -86400*30) // a month ago
	th.IsResolved = true
	th.UpdatedUTC = at(-86400 * 2)
	old := newMessage(th.ID, -86400*30+60, mews.SenderApplication)
	reply := newMessage(th.ID, -86400*29, mews.SenderEnterprise)
	c := e.dataImport([]mews.Thread{th}, []mews.Message{old, reply}, nil)
	if c != (mews.ImportCounts{AddedThreads: 1, AddedMessages: 2}) {
		e.t.Errorf("counts %+v", c)
	}
	checkThreads(e.t, "imported thread", []mews.Thread{e.threadByID(e.scope(e.e1), th.ID)}, []mews.Thread{th})
	checkMessages(e.t, "imported messages", e.messages(byThreads(e.scope(e.e1), th.ID)), []mews.Message{reply, old})

	// Derived: UpdatedUTC follows the newest message when that is newer.
	th2 := newThread(e.a, e.e1, 0)
	m := newMessage(th2.ID, 50, mews.SenderEnterprise)
	e.dataImport([]mews.Thread{th2}, []mews.Message{m}, nil)
	th2.UpdatedUTC = at(50)
	checkThreads(e.t, "UpdatedUTC of the newest message", []mews.Thread{e.threadByID(e.scope(e.e1), th2.ID)}, []mews.Thread{th2})
}

func dataImportIdempotentByID(e *env) {
	th := newThread(e.a, e.e1, 0)
	ms := []mews.Message{newMessage(th.ID, 1, mews.SenderApplication), newMessage(th.ID, 2, mews.SenderEnterprise)}
	e.dataImport([]mews.Thread{th}, ms, nil)
	before := e.answers(3)
	c := e.dataImport([]mews.Thread{th}, ms, nil)
	if c != (mews.ImportCounts{ExistingThreads: 1, ExistingMessages: 2}) {
		e.t.Errorf("second import: counts %+v, want everything existing", c)
	}
	if after := e.answers(3); after != before {
		e.t.Errorf("the second import changed the answers:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func dataImportAllOrNothing(e *env) {
	th := newThread(e.a, e.e1, 0)
	good := newMessage(th.ID, 1, mews.SenderApplication)
	orphan := newMessage(uuid.New(), 1, mews.SenderApplication)
	_, err := e.admin().DataImport(e.ctx, []mews.Thread{th}, []mews.Message{good, orphan}, nil)
	wantInvalid(e.t, err, orphan.ThreadID)
	if ts, ms := e.dataExport(mews.ExportFilter{}); len(ts)+len(ms) != 0 {
		e.t.Errorf("a failed import stored %d threads and %d messages", len(ts), len(ms))
	}
	// A message older than its thread is refused too.
	early := newMessage(th.ID, -1, mews.SenderApplication)
	_, err = e.admin().DataImport(e.ctx, []mews.Thread{th}, []mews.Message{early}, nil)
	wantInvalid(e.t, err, early.ID)
	// So is an Id listed twice.
	_, err = e.admin().DataImport(e.ctx, []mews.Thread{th}, []mews.Message{good, good}, nil)
	wantInvalid(e.t, err, good.ID)
	if ts, ms := e.dataExport(mews.ExportFilter{}); len(ts)+len(ms) != 0 {
		e.t.Errorf("failed imports stored %d threads and %d messages", len(ts), len(ms))
	}
}

func dataImportConflictingIDs(e *env) {
	th := e.thread(e.a, e.e1, 0)
	m := e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))[0]
	other := th
	other.IntegrationID = e.b
	_, err := e.admin().DataImport(e.ctx, []mews.Thread{other}, nil, nil)
	wantInvalid(e.t, err, th.ID)
	th2 := newThread(e.a, e.e1, 0)
	moved := m
	moved.ThreadID = th2.ID
	_, err = e.admin().DataImport(e.ctx, []mews.Thread{th2}, []mews.Message{moved}, nil)
	wantInvalid(e.t, err, m.ID)
	if ts, _ := e.dataExport(mews.ExportFilter{}); len(ts) != 1 {
		e.t.Errorf("%d threads stored, want the first only", len(ts))
	}
}

func dataImportIntoStoredThread(e *env) {
	th := e.thread(e.a, e.e1, 0)
	m := newMessage(th.ID, 40, mews.SenderEnterprise)
	c := e.dataImport(nil, []mews.Message{m}, nil)
	if c.AddedMessages != 1 {
		e.t.Errorf("counts %+v", c)
	}
	if got := e.threadByID(e.scope(e.e1), th.ID); !got.UpdatedUTC.Equal(at(40)) {
		e.t.Errorf("UpdatedUTC = %s, want the imported message's %s", got.UpdatedUTC, at(40))
	}
	older := newMessage(th.ID, 10, mews.SenderEnterprise)
	e.dataImport(nil, []mews.Message{older}, nil)
	if got := e.threadByID(e.scope(e.e1), th.ID); !got.UpdatedUTC.Equal(at(40)) {
		e.t.Errorf("UpdatedUTC = %s after an older message, want it to stay %s", got.UpdatedUTC, at(40))
	}
}

func dataImportWebhooksOnlyWhenAsked(e *env) {
	e.setWebhooks(e.a, "http://x.example/1")
	th := newThread(e.a, e.e1, 0)
	e.dataImport([]mews.Thread{th}, []mews.Message{newMessage(th.ID, 1, mews.SenderApplication)}, nil)
	if ds := e.deliveries(&e.a); len(ds) != 0 {
		e.t.Fatalf("an import without webhooks queued %d deliveries", len(ds))
	}
	now := at(500)
	m1, m2 := newMessage(th.ID, 2, mews.SenderEnterprise), newMessage(th.ID, 3, mews.SenderApplication)
	e.dataImport(nil, []mews.Message{m1, m2}, &now)
	ds := e.deliveries(&e.a)
	if len(ds) != 1 {
		e.t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.Status != mews.DeliveryPending || !d.CreatedUTC.Equal(now) || !d.NextAttemptUTC.Equal(now) || d.URL != "http://x.example/1" {
		e.t.Errorf("delivery %+v, want pending, created and due at %s", d, now)
	}
	want := string(mews.WebhookPayload(e.e1, e.a, []uuid.UUID{m1.ID, m2.ID}))
	if string(d.Payload) != want {
		e.t.Errorf("payload %s, want %s", d.Payload, want)
	}
}

func dataExportFilters(e *env) {
	a1, a2, b1 := e.thread(e.a, e.e1, 0), e.thread(e.a, e.e2, 1), e.thread(e.b, e.e1, 2)
	ma := e.addMessages(e.scope(e.e1), newMessage(a1.ID, 3, mews.SenderApplication))[0]
	mb := e.addMessages(mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}}, newMessage(b1.ID, 4, mews.SenderApplication))[0]
	a1.UpdatedUTC, b1.UpdatedUTC = at(3), at(4)
	for _, tc := range []struct {
		name string
		f    mews.ExportFilter
		ts   []mews.Thread
		ms   []mews.Message
	}{
		{"all", mews.ExportFilter{}, []mews.Thread{b1, a2, a1}, []mews.Message{mb, ma}},
		{"integration A", mews.ExportFilter{IntegrationID: &e.a}, []mews.Thread{a2, a1}, []mews.Message{ma}},
		{"enterprise E1", mews.ExportFilter{EnterpriseID: &e.e1}, []mews.Thread{b1, a1}, []mews.Message{mb, ma}},
		{"A in E2", mews.ExportFilter{IntegrationID: &e.a, EnterpriseID: &e.e2}, []mews.Thread{a2}, nil},
	} {
		ts, ms := e.dataExport(tc.f)
		checkThreads(e.t, tc.name+": threads", ts, tc.ts)
		checkMessages(e.t, tc.name+": messages", ms, tc.ms)
	}
}

func deliveryRedeliver(e *env) {
	e.setWebhooks(e.a, "http://x.example/1")
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))
	orig := e.deliveries(&e.a)[0]
	if err := e.admin().DeliveryRecord(e.ctx, mews.DeliveryOutcome{ID: orig.ID, At: at(2), Status: mews.DeliveryFailed, StatusCode: 500, Error: "500"}); err != nil {
		e.t.Fatal(err)
	}
	now := at(100)
	d, err := e.admin().DeliveryRedeliver(e.ctx, orig.ID, "", now)
	if err != nil {
		e.t.Fatal(err)
	}
	if d.ID == orig.ID || d.Status != mews.DeliveryPending || d.Attempts != 0 || d.URL != orig.URL ||
		string(d.Payload) != string(orig.Payload) || !d.CreatedUTC.Equal(now) || !d.NextAttemptUTC.Equal(now) || d.IntegrationID != e.a {
		e.t.Errorf("redelivery %+v of %+v", d, orig)
	}
	if got, err := e.admin().DeliveriesClaim(e.ctx, now, time.Minute, 10); err != nil || len(got) != 1 || got[0].ID != d.ID {
		e.t.Errorf("claim at %s: %v %v, want the redelivery", now, got, err)
	}
	to, err := e.admin().DeliveryRedeliver(e.ctx, orig.ID, "http://127.0.0.1:9/listen", now)
	if err != nil || to.URL != "http://127.0.0.1:9/listen" {
		e.t.Errorf("redelivery to another URL: %+v %v", to, err)
	}
	ds := e.deliveries(&e.a)
	if len(ds) != 3 || ds[2].ID != orig.ID || ds[2].Status != mews.DeliveryFailed {
		e.t.Errorf("deliveries %+v, want the original kept as it was", ds)
	}
	_, err = e.admin().DeliveryRedeliver(e.ctx, 1<<40, "", now)
	wantCode(e.t, err, mews.ENOTFOUND)
}

func deliveryDefer(e *env) {
	e.setWebhooks(e.a, "http://x.example/1")
	th := e.thread(e.a, e.e1, 0)
	e.addMessages(e.scope(e.e1), newMessage(th.ID, 1, mews.SenderApplication))
	a := e.admin()
	got, err := a.DeliveriesClaim(e.ctx, at(1), time.Minute, 10)
	if err != nil || len(got) != 1 {
		e.t.Fatalf("claim: %v %v", got, err)
	}
	if err := a.DeliveryDefer(e.ctx, got[0].ID, at(31)); err != nil {
		e.t.Fatal(err)
	}
	if again, _ := a.DeliveriesClaim(e.ctx, at(30), time.Minute, 10); len(again) != 0 {
		e.t.Errorf("claimed a deferred delivery before it was due")
	}
	again, err := a.DeliveriesClaim(e.ctx, at(31), time.Minute, 10)
	if err != nil || len(again) != 1 || again[0].Attempts != 0 {
		e.t.Errorf("claim when due: %+v %v, want the delivery with no attempt counted", again, err)
	}
}
