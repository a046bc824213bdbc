package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// The comparisons print every field, so that a time in another location or
// with a fraction of a second differs from the one the server stored even
// when it is the same instant: the server passes on what the store returns.

func timeString(t time.Time) string {
	return t.Format(time.RFC3339Nano) + " " + t.Location().String()
}

func threadString(t mews.Thread) string {
	return fmt.Sprintf("{ID:%s Integration:%s Enterprise:%s OriginalSender:%q Subject:%q Created:%s Updated:%s IsResolved:%t}",
		t.ID, t.IntegrationID, t.EnterpriseID, t.OriginalSender, t.Subject,
		timeString(t.CreatedUTC), timeString(t.UpdatedUTC), t.IsResolved)
}

func messageString(m mews.Message) string {
	return fmt.Sprintf("{ID:%s Thread:%s Text:%q Sender:%s Created:%s}",
		m.ID, m.ThreadID, m.Text, m.Sender, timeString(m.CreatedUTC))
}

func threadID(t mews.Thread) uuid.UUID   { return t.ID }
func messageID(m mews.Message) uuid.UUID { return m.ID }

func threadCreated(t mews.Thread) time.Time   { return t.CreatedUTC }
func messageCreated(m mews.Message) time.Time { return m.CreatedUTC }

func checkThreads(t *testing.T, what string, got, want []mews.Thread) {
	t.Helper()
	checkItems(t, what, got, want, threadString)
}

func checkMessages(t *testing.T, what string, got, want []mews.Message) {
	t.Helper()
	checkItems(t, what, got, want, messageString)
}

// checkItems reports, as one error, every difference between got and want.
func checkItems[T any](t *testing.T, what string, got, want []T, str func(T) string) {
	t.Helper()
	var b strings.Builder
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = str(got[i])
		}
		if i < len(want) {
			w = str(want[i])
		}
		if g != w {
			fmt.Fprintf(&b, "\n[%d]\n got  %s\n want %s", i, g, w)
		}
	}
	if b.Len() > 0 {
		t.Errorf("%s: got %d items, want %d; differences:%s", what, len(got), len(want), b.String())
	}
}

// newestFirst returns items, given in the order they were stored, in the
// order of pages: by creation instant, newest first, and of those created at
// the same instant, the last stored first.
func newestFirst[T any](items []T, created func(T) time.Time) []T {
	out := slices.Clone(items)
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b T) int { return created(b).Compare(created(a)) })
	return out
}

// walk reads a listing page by page, each page asked with the Id of the last
// item of the previous one as cursor, until a page is empty; it calls
// between, if not nil, after every page. It returns the items in the order
// read and fails the test if a page is longer than count, if a page follows
// one shorter than count, or if an item comes back twice.
func walk[T any](t *testing.T, count int, page func(cursor *uuid.UUID) ([]T, error), id func(T) uuid.UUID, between func()) []T {
	t.Helper()
	var items []T
	var cursor *uuid.UUID
	seen := make(map[uuid.UUID]int)
	short := false
	for n := 0; ; n++ {
		got, err := page(cursor)
		if err != nil {
			t.Fatalf("page %d (cursor %v): %v", n, cursor, err)
		}
		if len(got) == 0 {
			return items
		}
		if short {
			t.Fatalf("page %d: %d items after a page shorter than %d", n, len(got), count)
		}
		if len(got) > count {
			t.Fatalf("page %d: %d items, more than the count %d", n, len(got), count)
		}
		short = len(got) < count
		for _, it := range got {
			if p, ok := seen[id(it)]; ok {
				t.Fatalf("page %d: item %s, already on page %d", n, id(it), p)
			}
			seen[id(it)] = n
		}
		items = append(items, got...)
		last := id(got[len(got)-1])
		cursor = &last
		if between != nil {
			between()
		}
	}
}

// walkThreads walks the threads that f selects with pages of count.
func (e *env) walkThreads(f mews.ThreadFilter, count int, between func()) []mews.Thread {
	e.t.Helper()
	return walk(e.t, count, func(cursor *uuid.UUID) ([]mews.Thread, error) {
		f.Page = mews.Page{Cursor: cursor, Count: count}
		return e.s.MessageThreadsGetAll(e.ctx, f)
	}, threadID, between)
}

// walkMessages walks the messages that f selects with pages of count.
func (e *env) walkMessages(f mews.MessageFilter, count int, between func()) []mews.Message {
	e.t.Helper()
	return walk(e.t, count, func(cursor *uuid.UUID) ([]mews.Message, error) {
		f.Page = mews.Page{Cursor: cursor, Count: count}
		return e.s.MessagesGetAll(e.ctx, f)
	}, messageID, between)
}
