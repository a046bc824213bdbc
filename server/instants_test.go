package server_test

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
)

// set moves the clock to t.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// ids returns the Ids of the items of a page, in order.
func pageIDs(r response, key string) []string {
	var out []string
	for _, it := range r.body[key].([]any) {
		out = append(out, it.(obj)["Id"].(string))
	}
	return out
}

const dateTimeMessage = "CreatedUtc.StartUtc must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z."

// Every RFC 3339 spelling of an instant selects exactly that instant;
// anything else is refused with the same 400 as before.
func TestDateTimeFormsInRequests(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.clock.set(time.Date(2022, 3, 7, 16, 9, 45, 500_000_000, time.UTC))
	th := e.addThread(demoClient, demoGross, "half past")
	if th["CreatedUtc"] != "2022-03-07T16:09:45Z" {
		t.Errorf("CreatedUtc %v, want the second, truncated", th["CreatedUtc"])
	}
	find := func(start, end string) response {
		return e.post(pathThreadsGetAll, demo("CreatedUtc", obj{"StartUtc": start, "EndUtc": end}, "Limitation", limitation(10, nil)))
	}
	for _, s := range []string{
		"2022-03-07T16:09:45.5Z", "2022-03-07t16:09:45.5z", "2022-03-07T16:09:45.500000+00:00",
		"2022-03-07T16:09:45.500000000-00:00", "2022-03-07T17:39:45.5+01:30", "2022-03-07t06:09:45.50-10:00",
		"2022-03-07T16:09:45.5000000000000Z",
	} {
		r := find(s, s)
		e.wantStatus(r, 200)
		if got := pageIDs(r, "MessageThreads"); len(got) != 1 || got[0] != th["Id"] {
			t.Errorf("[%s, %s]: %v, want the thread", s, s, got)
		}
	}
	for _, s := range []string{
		"2022-03-07T16:09:45.500001Z", "2022-03-07t16:09:45.500000001z", "2022-03-07T17:39:45.5000000000001+01:30",
	} {
		r := find(s, "2022-03-07T16:10:00Z")
		e.wantStatus(r, 200)
		if got := pageIDs(r, "MessageThreads"); len(got) != 0 {
			t.Errorf("from %s: %v, want nothing (the thread is older)", s, got)
		}
	}
	for _, s := range []string{
		"2022-03-07T16:09:45,5Z", "2022-03-07 16:09:45Z", "2022-03-07T16:09:45", "2022-03-07T16:09:45+0100",
		"2022-03-07T16:09:45+24:00", "2016-12-31T23:59:60Z", "2022-03-07T6:09:45Z", "2022-03-07T16:09:45.Z",
		"2022-03-07T16:09:45ZZ", "2022-02-29T16:09:45Z", "2022-03-07T16:09:45 Z",
	} {
		r := find(s, "2022-03-08T00:00:00Z")
		e.wantStatus(r, 400)
		if r.body["Message"] != dateTimeMessage {
			t.Errorf("%q: message %q, want %q", s, r.body["Message"], dateTimeMessage)
		}
	}
}

// The limits of an interval's length apply to the bounds as written; an
// end in whole seconds covers its second, also for the rule that the start
// is not after the end.
func TestIntervalLimitsAndEnds(t *testing.T) {
	e := newEnv(t, server.Config{})
	for _, c := range []struct {
		start, end string
		status     int
		message    string
	}{
		{"2022-01-01T00:00:00Z", "2022-04-01T00:00:00Z", 200, ""},
		{"2022-01-01T00:00:00.5Z", "2022-04-01T00:00:00.5Z", 200, ""},
		{"2022-01-01T00:00:00.5Z", "2022-04-01T00:00:00.500001Z", 400, "CreatedUtc must not be longer than 3 months."},
		{"2022-01-01T00:00:00Z", "2022-04-01T00:00:00.000000001Z", 400, "CreatedUtc must not be longer than 3 months."},
		{"2022-03-07T16:09:45.5Z", "2022-03-07T16:09:45Z", 200, ""}, // the end covers .5
		{"2022-03-07T16:09:45.5Z", "2022-03-07T16:09:45.000Z", 200, ""},
		{"2022-03-07T16:09:45.5Z", "2022-03-07T16:09:45.4Z", 400, "CreatedUtc.StartUtc must not be after CreatedUtc.EndUtc."},
		{"2022-03-07T16:09:46Z", "2022-03-07T16:09:45.999999999Z", 400, "CreatedUtc.StartUtc must not be after CreatedUtc.EndUtc."},
	} {
		r := e.post(pathThreadsGetAll, demo("CreatedUtc", obj{"StartUtc": c.start, "EndUtc": c.end}, "Limitation", limitation(10, nil)))
		if r.status != c.status || (c.message != "" && r.body["Message"] != c.message) {
			t.Errorf("[%s, %s]: %d %v, want %d %q", c.start, c.end, r.status, r.body["Message"], c.status, c.message)
		}
	}
	// Where the reference is silent: the official schema makes both ends
	// nullable; a null or missing end is refused.
	for body, message := range map[string]string{
		`{"StartUtc":"2022-03-07T16:09:45Z"}`:               "CreatedUtc.EndUtc is required.",
		`{"StartUtc":"2022-03-07T16:09:45Z","EndUtc":null}`: "CreatedUtc.EndUtc must not be null.",
		`{"StartUtc":null,"EndUtc":"2022-03-07T16:09:45Z"}`: "CreatedUtc.StartUtc must not be null.",
	} {
		raw := `{"ClientToken":"` + demoClient + `","AccessToken":"` + demoGross + `","Client":"Test 1.0","CreatedUtc":` + body + `,"Limitation":{"Count":1}}`
		r := e.post(pathThreadsGetAll, raw)
		if r.status != 400 || r.body["Message"] != message {
			t.Errorf("%s: %d %v, want 400 %q", body, r.status, r.body["Message"], message)
		}
	}
}

// A property test of the bound rule over HTTP: items written at random
// instants (the clock's, with their fractions), and random intervals with
// bounds written in random forms, with and without fractions. Each page
// holds exactly the items that the rule selects, newest first:
//
//   - a bound with a (nonzero) fraction is exact;
//   - a bound in whole seconds covers its second: StartUtc S from S.000000,
//     EndUtc S through S.999999;
//   - an interval whose start is after the end it covers is a 400.
func TestBoundRuleProperty(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	e := newEnv(t, server.Config{})
	base := time.Date(2026, 12, 1, 19, 4, 0, 0, time.UTC)
	const window = 4 * time.Second
	randInstant := func(from time.Time) time.Time {
		t := from.Add(time.Duration(r.Int63n(int64(window))))
		if r.Intn(5) == 0 {
			t = t.Truncate(time.Second)
		}
		return t
	}

	type item struct {
		id      string
		instant time.Time // as stored: to the microsecond
		seq     int
	}
	var created, updated, messages []item
	var threadIDs []any
	for i := range 30 {
		at := randInstant(base)
		e.clock.set(at)
		th := e.addThread(demoClient, demoGross, fmt.Sprint("thread ", i))
		it := item{id: th["Id"].(string), instant: at.Truncate(time.Microsecond), seq: i}
		created = append(created, it)
		updated = append(updated, it)
		threadIDs = append(threadIDs, it.id)
	}
	for i := range 30 {
		n := r.Intn(len(created))
		at := randInstant(base.Add(window))
		if at.Truncate(time.Microsecond).Before(updated[n].instant) {
			continue // UpdatedUtc moves to the newest message only
		}
		e.clock.set(at)
		res := e.addMessages(demoClient, demoGross, obj{"MessageThreadId": created[n].id, "Text": fmt.Sprint("message ", i)})
		e.wantStatus(res, 200)
		id := res.body["Messages"].([]any)[0].(obj)["Message"].(obj)["Id"].(string)
		messages = append(messages, item{id: id, instant: at.Truncate(time.Microsecond), seq: i})
		updated[n].instant = at.Truncate(time.Microsecond)
	}
	// Seq of updated follows creation: the order of pages is (CreatedUtc, insertion).
	newestFirst := func(items []item, key []item) []string {
		byID := map[string]item{}
		for _, k := range key {
			byID[k.id] = k
		}
		s := slices.Clone(items)
		slices.SortFunc(s, func(a, b item) int {
			if c := byID[b.id].instant.Compare(byID[a.id].instant); c != 0 {
				return c
			}
			return byID[b.id].seq - byID[a.id].seq
		})
		var out []string
		for _, it := range s {
			out = append(out, it.id)
		}
		return out
	}

	zones := []struct {
		loc   *time.Location
		minus bool // -00:00 instead of Z
	}{{time.UTC, false}, {time.UTC, true}, {time.FixedZone("", 0), false}, {time.FixedZone("", 5*3600+45*60), false}, {time.FixedZone("", -8*3600), false}}
	// bound returns a random bound near the items: its instant, whether it
	// has a nonzero fraction, and a spelling of it.
	bound := func(items []item) (time.Time, string) {
		var b time.Time
		switch r.Intn(3) {
		case 0: // on an item, or a nanosecond off
			b = items[r.Intn(len(items))].instant.Add(time.Duration(r.Intn(3)-1) * time.Nanosecond)
		case 1: // a whole second
			b = base.Add(time.Duration(r.Intn(10)-1) * time.Second)
		default:
			b = base.Add(time.Duration(r.Int63n(int64(2*window+2*time.Second))) - time.Second)
		}
		digits := 9
		if b.Nanosecond() == 0 {
			digits = []int{0, 0, 3, 9}[r.Intn(4)] // whole: no fraction or zeros
		} else if b.Nanosecond()%1000 == 0 && r.Intn(2) == 0 {
			digits = 6
		}
		z := zones[r.Intn(len(zones))]
		layout := "2006-01-02T15:04:05"
		if digits > 0 {
			layout += "." + strings.Repeat("0", digits)
		}
		s := b.In(z.loc).Format(layout + "Z07:00")
		if z.minus {
			s = strings.TrimSuffix(s, "Z") + "-00:00"
		}
		if r.Intn(3) == 0 {
			s = strings.ToLower(s)
		}
		return b, s
	}
	// The rule, written out on its own.
	selects := func(start, end, instant time.Time) bool {
		if end.Nanosecond() == 0 {
			end = end.Add(time.Second - time.Nanosecond)
		}
		return !instant.Before(start) && !instant.After(end)
	}
	valid := func(start, end time.Time) bool {
		return start.Before(end) || start.Equal(end) || (end.Nanosecond() == 0 && start.Before(end.Add(time.Second)))
	}

	filters := []struct {
		name, path, filter, key string
		items, order            []item
	}{
		{"threads by CreatedUtc", pathThreadsGetAll, "CreatedUtc", "MessageThreads", created, created},
		{"threads by UpdatedUtc", pathThreadsGetAll, "UpdatedUtc", "MessageThreads", updated, created},
		{"messages by CreatedUtc", pathMessagesGetAll, "CreatedUtc", "Messages", messages, messages},
	}
	for round := range 150 {
		f := filters[round%len(filters)]
		all := slices.Concat(created, updated, messages)
		start, startS := bound(all)
		end, endS := bound(all)
		body := demo(f.filter, obj{"StartUtc": startS, "EndUtc": endS}, "Limitation", limitation(1000, nil))
		if f.path == pathMessagesGetAll {
			body["MessageThreadIds"] = threadIDs
		}
		res := e.post(f.path, body)
		what := fmt.Sprintf("%s in [%s, %s]", f.name, startS, endS)
		if !valid(start, end) {
			if res.status != 400 || !strings.Contains(res.body["Message"].(string), "must not be after") {
				t.Errorf("%s: %d %s, want 400 (start after end)", what, res.status, res.raw)
			}
			continue
		}
		if res.status != 200 {
			t.Fatalf("%s: %d %s", what, res.status, res.raw)
		}
		var want []item
		for _, it := range f.items {
			if selects(start, end, it.instant) {
				want = append(want, it)
			}
		}
		if got, want := pageIDs(res, f.key), newestFirst(want, f.order); !slices.Equal(got, want) {
			t.Errorf("%s (seed %d):\n got  %v\n want %v", what, seed, got, want)
		}
	}
}
