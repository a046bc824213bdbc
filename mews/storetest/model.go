package storetest

import (
	"cmp"
	"fmt"
	"math/rand"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// The page walks against a model: every page, not only the whole walk, is
// the newest Count items of the model that match the filter and sit
// strictly below the cursor in the order (CreatedUTC, insertion) newest
// first. Instants are drawn from a few microseconds apart, so that many
// items share an instant, a page boundary falls inside an instant, the
// cursor is the first or last item of its instant, and an interval ends
// one microsecond either side of an instant. Between pages items are added
// at any instant, newer, older or the cursor's own; the model holds them
// too, so each page is checked against what the store holds then.

// modelInstants are the instants of the model tests, in microseconds from
// the base time.
var modelInstants = []int64{-1_000_000, -1, 0, 1, 2, 999_999, 1_000_000, 1_000_001, 5_000_000}

func modelInstant(r *rand.Rand) int64 { return modelInstants[r.Intn(len(modelInstants))] }

// modelInterval returns nil or an interval whose ends are instants of the
// model or one microsecond from them.
func modelInterval(r *rand.Rand) *mews.Interval {
	if r.Intn(3) == 0 {
		return nil
	}
	a, b := modelInstant(r)+int64(r.Intn(3)-1), modelInstant(r)+int64(r.Intn(3)-1)
	if a > b {
		a, b = b, a
	}
	return &mews.Interval{Start: atMicro(a), End: atMicro(b)}
}

// inModelInterval reports whether t is in iv; a nil iv holds every instant.
func inModelInterval(iv *mews.Interval, t time.Time) bool { return iv == nil || inInterval(t, *iv) }

// modelItem is an item of the model, with its place in the insertion order.
type modelItem[T any] struct {
	item T
	n    int
}

// modelPage returns the newest count items of model that match, strictly
// below the item cursor (if not nil) in the page order.
func modelPage[T any](model []modelItem[T], match func(T) bool, created func(T) time.Time, id func(T) uuid.UUID, cursor *uuid.UUID, count int) []T {
	order := func(a, b modelItem[T]) int { // newest first
		if c := created(b.item).Compare(created(a.item)); c != 0 {
			return c
		}
		return cmp.Compare(b.n, a.n)
	}
	var below *modelItem[T]
	if cursor != nil {
		i := slices.IndexFunc(model, func(m modelItem[T]) bool { return id(m.item) == *cursor })
		below = &model[i]
	}
	var out []modelItem[T]
	for _, m := range model {
		if match(m.item) && (below == nil || order(m, *below) > 0) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, order)
	var page []T
	for _, m := range out[:min(count, len(out))] {
		page = append(page, m.item)
	}
	return page
}

// walkModel walks the pages of a listing from cursor and checks each one
// against the model's; between adds items to the store and the model after
// each page. The walk ends with the first page shorter than count.
func walkModel[T any](e *env, what string, count int, cursor *uuid.UUID,
	page func(cursor *uuid.UUID) ([]T, error), want func(cursor *uuid.UUID) []T,
	id func(T) uuid.UUID, str func(T) string, between func()) {
	e.t.Helper()
	for n := 0; ; n++ {
		w := want(cursor)
		got, err := page(cursor)
		if err != nil {
			e.t.Fatalf("%s, page %d: %v", what, n, err)
		}
		checkItems(e.t, fmt.Sprintf("%s, page %d after %v", what, n, cursor), got, w, str)
		if e.t.Failed() || len(got) < count {
			return
		}
		if n > 1000 {
			e.t.Fatalf("%s: more than 1000 pages", what)
		}
		last := id(got[len(got)-1])
		cursor = &last
		if between != nil {
			between()
		}
	}
}

func threadsPagesMatchAModel(e *env) {
	r := newRand(e.t)
	for round := range 15 {
		e.a = uuid.New()
		portfolio := r.Intn(2) == 0
		scope := e.scope(e.e1)
		if portfolio {
			scope = e.scope(e.e1, e.e2)
		}
		var model []modelItem[mews.Thread]
		var noise []uuid.UUID
		add := func() {
			created := modelInstant(r)
			th := newThread(e.a, e.e1, 0)
			th.CreatedUTC = atMicro(created)
			th.UpdatedUTC = atMicro(created + []int64{0, 0, 1, 1_000_000}[r.Intn(4)])
			switch r.Intn(6) {
			case 0:
				th.IntegrationID = e.b // someone else's
			case 1:
				th.EnterpriseID = e.e3 // outside the scope
			case 2:
				th.EnterpriseID = e.e2
			}
			e.addThread(th)
			if th.IntegrationID == e.a && (th.EnterpriseID == e.e1 || portfolio && th.EnterpriseID == e.e2) {
				model = append(model, modelItem[mews.Thread]{th, len(model)})
			} else {
				noise = append(noise, th.ID)
			}
		}
		for range r.Intn(50) {
			add()
		}
		f := mews.ThreadFilter{Scope: scope, Created: modelInterval(r), Updated: modelInterval(r)}
		if r.Intn(3) == 0 {
			f.IDs = []uuid.UUID{uuid.New()}
			for _, m := range model {
				if r.Intn(2) == 0 {
					f.IDs = append(f.IDs, m.item.ID)
				}
			}
			f.IDs = append(f.IDs, noise...)
		}
		match := func(t mews.Thread) bool {
			return inModelInterval(f.Created, t.CreatedUTC) && inModelInterval(f.Updated, t.UpdatedUTC) &&
				(f.IDs == nil || slices.Contains(f.IDs, t.ID))
		}
		count := 1 + r.Intn(len(model)+3)
		var cursor *uuid.UUID // any thread of the scope, matching or not
		if len(model) > 0 && r.Intn(3) == 0 {
			cursor = &model[r.Intn(len(model))].item.ID
		}
		var between func()
		if r.Intn(2) == 0 {
			between = func() {
				for range r.Intn(4) {
					add()
				}
			}
		}
		walkModel(e, fmt.Sprintf("round %d: %d threads, portfolio %t, created %v, updated %v, %d ids, count %d",
			round, len(model), portfolio, f.Created, f.Updated, len(f.IDs), count), count, cursor,
			func(cursor *uuid.UUID) ([]mews.Thread, error) {
				f.Page = mews.Page{Cursor: cursor, Count: count}
				return e.s.MessageThreadsGetAll(e.ctx, f)
			},
			func(cursor *uuid.UUID) []mews.Thread {
				return modelPage(model, match, threadCreated, threadID, cursor, count)
			},
			threadID, threadString, between)
		if e.t.Failed() {
			return
		}
	}
}

func messagesPagesMatchAModel(e *env) {
	r := newRand(e.t)
	scope := e.scope(e.e1, e.e2)
	for round := range 15 {
		e.a = uuid.New()
		scope.IntegrationID = e.a
		var threads []uuid.UUID // of the scope
		for range 1 + r.Intn(4) {
			threads = append(threads, e.thread(e.a, []uuid.UUID{e.e1, e.e2}[r.Intn(2)], 0).ID)
		}
		theirs := e.thread(e.b, e.e1, 0).ID
		elsewhere := e.thread(e.a, e.e3, 0).ID
		e.addMessages(mews.Scope{IntegrationID: e.b, EnterpriseIDs: []uuid.UUID{e.e1}}, newMessage(theirs, 0, mews.SenderApplication))
		e.addMessages(e.scope(e.e3), newMessage(elsewhere, 0, mews.SenderApplication))

		var model []modelItem[mews.Message]
		add := func() { // a batch, whose messages share their instant more often than not
			var batch []mews.Message
			created := modelInstant(r)
			for range 1 + r.Intn(8) {
				if r.Intn(4) == 0 {
					created = modelInstant(r)
				}
				m := newMessage(threads[r.Intn(len(threads))], 0, mews.SenderApplication)
				m.CreatedUTC = atMicro(created)
				batch = append(batch, m)
			}
			for _, m := range e.addMessages(scope, batch...) {
				model = append(model, modelItem[mews.Message]{m, len(model)})
			}
		}
		for range r.Intn(8) {
			add()
		}
		asked := slices.Clone(threads[:1+r.Intn(len(threads))])
		f := mews.MessageFilter{Scope: scope, ThreadIDs: append(asked, theirs, elsewhere, uuid.New()), Created: modelInterval(r)}
		r.Shuffle(len(f.ThreadIDs), func(i, j int) { f.ThreadIDs[i], f.ThreadIDs[j] = f.ThreadIDs[j], f.ThreadIDs[i] })
		match := func(m mews.Message) bool {
			return slices.Contains(asked, m.ThreadID) && inModelInterval(f.Created, m.CreatedUTC)
		}
		count := 1 + r.Intn(len(model)+3)
		var cursor *uuid.UUID // any message of the scope, of a thread asked or not
		if len(model) > 0 && r.Intn(3) == 0 {
			cursor = &model[r.Intn(len(model))].item.ID
		}
		var between func()
		if r.Intn(2) == 0 {
			between = func() {
				for range r.Intn(3) {
					add()
				}
			}
		}
		walkModel(e, fmt.Sprintf("round %d: %d of %d threads, %d messages, created %v, count %d",
			round, len(asked), len(threads), len(model), f.Created, count), count, cursor,
			func(cursor *uuid.UUID) ([]mews.Message, error) {
				f.Page = mews.Page{Cursor: cursor, Count: count}
				return e.s.MessagesGetAll(e.ctx, f)
			},
			func(cursor *uuid.UUID) []mews.Message {
				return modelPage(model, match, messageCreated, messageID, cursor, count)
			},
			messageID, messageString, between)
		if e.t.Failed() {
			return
		}
	}
}
