package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/sqlite"
)

func TestOpenStoreChoosesEngineFromDSN(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		s, err := openStore(t.Context(), filepath.Join(t.TempDir(), "postgres.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, ok := s.(*sqlite.DB); !ok {
			t.Errorf("got %T, want *sqlite.DB", s)
		}
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		s, err := openStore(t.Context(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, ok := s.(*postgres.DB); !ok {
			t.Errorf("got %T, want *postgres.DB", s)
		}
	})
	t.Run("PostgreSQL unreachable", func(t *testing.T) {
		s, err := openStore(t.Context(), "postgres://mewsref@127.0.0.1:1/none?connect_timeout=5")
		if err == nil || s != nil {
			t.Errorf("got %v, %v; want a nil store and an error", s, err)
		}
	})
}

// item is an item of a listing as the API shows it.
type item struct{ id, created string }

// TestTwoProcessesShareOnePostgres runs two server processes on one
// database, writes through both at once (parallel writers, each alternating
// the processes), then pages through each: both must list the same items in
// the same order, every item once, newest first, and the items of each
// writer in the reverse order of their adding, whichever process added them.
func TestTwoProcessesShareOnePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin := binary(t)
	procs := []*proc{start(t, bin, "-db", dsn), start(t, bin, "-db", dsn)}

	// Threads that every writer adds messages to, through either process.
	var shared []string
	for i := range 3 {
		shared = append(shared, addThread(t, procs[i%2].addr, fmt.Sprintf("shared %d", i)).id)
	}
	const writers, rounds = 8, 10
	threads := make([][]item, writers)  // per writer, in the order added
	messages := make([][]item, writers) // idem
	t.Run("writers", func(t *testing.T) {
		for w := range writers {
			t.Run(fmt.Sprint(w), func(t *testing.T) {
				t.Parallel()
				for i := range rounds {
					// Each writer alternates the processes, so that its
					// own items, one after the other, come from both.
					addr := procs[(w+i)%2].addr
					threads[w] = append(threads[w], addThread(t, addr, fmt.Sprintf("writer %d, %d", w, i)))
					messages[w] = append(messages[w], addMessages(t, addr, shared[i%len(shared)], shared[(i+1)%len(shared)])...)
				}
			})
		}
	})
	if t.Failed() {
		return
	}

	for what, c := range map[string]struct {
		op, body, list string
		count          int
		byWriter       [][]item
		extra          int // items listed that no writer added
	}{
		"threads": {"messageThreads/getAll", `"CreatedUtc":` + aroundNow(), "MessageThreads", 7, threads, len(shared)},
		"messages": {"messages/getAll", `"MessageThreadIds":["` + strings.Join(shared, `","`) + `"]`, "Messages", 9,
			messages, 0},
	} {
		t.Run(what, func(t *testing.T) {
			var walks [][]item
			for _, p := range procs {
				walks = append(walks, walkAPI(t, p.addr, c.op, c.body, c.list, c.count))
			}
			if !slices.Equal(walks[0], walks[1]) {
				t.Fatalf("the processes list different sequences:\n%v\n%v", walks[0], walks[1])
			}
			checkByWriter(t, walks[0], c.byWriter, c.extra)
		})
	}
	for _, p := range procs {
		p.stop(t)
	}
}

// aroundNow is an interval, in JSON, that holds every item of the test.
func aroundNow() string {
	now := time.Now().UTC()
	return fmt.Sprintf(`{"StartUtc":%q,"EndUtc":%q}`,
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
}

// addThread adds a thread through the process at addr.
func addThread(t *testing.T, addr, subject string) item {
	t.Helper()
	status, body := post(t, addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"e2e","Subject":"`+subject+`"}`)
	if status != 200 {
		t.Fatalf("add thread: %d %v", status, body)
	}
	th := body["MessageThreads"].([]any)[0].(map[string]any)
	return item{th["Id"].(string), th["CreatedUtc"].(string)}
}

// addMessages adds one message to each of threads, in one batch, through
// the process at addr, and returns them in the order added.
func addMessages(t *testing.T, addr string, threads ...string) []item {
	t.Helper()
	var msgs []string
	for _, th := range threads {
		msgs = append(msgs, `{"MessageThreadId":"`+th+`","Text":"hello"}`)
	}
	status, body := post(t, addr, "messages/add", `{`+demoCreds+`,"Messages":[`+strings.Join(msgs, ",")+`]}`)
	if status != 200 {
		t.Fatalf("add messages: %d %v", status, body)
	}
	var added []item
	for _, a := range body["Messages"].([]any) {
		m := a.(map[string]any)["Message"].(map[string]any)
		added = append(added, item{m["Id"].(string), m["CreatedUtc"].(string)})
	}
	return added
}

// walkAPI pages through a getAll operation of the process at addr, count
// items a page, until an empty page, and returns the items in the order
// listed. It fails on an item listed twice or listed after a newer one.
func walkAPI(t *testing.T, addr, op, filter, list string, count int) []item {
	t.Helper()
	var all []item
	seen := make(map[string]bool)
	cursor := "null"
	for {
		status, body := post(t, addr, op, fmt.Sprintf(`{%s,%s,"Limitation":{"Count":%d,"Cursor":%s}}`, demoCreds, filter, count, cursor))
		if status != 200 {
			t.Fatalf("%s: %d %v", op, status, body)
		}
		page := body[list].([]any)
		if len(page) == 0 {
			return all
		}
		for _, it := range page {
			m := it.(map[string]any)
			i := item{m["Id"].(string), m["CreatedUtc"].(string)}
			if seen[i.id] {
				t.Fatalf("%s: %s listed twice", op, i.id)
			}
			seen[i.id] = true
			// The API's datetimes, whole seconds in UTC, sort as text.
			if len(all) > 0 && i.created > all[len(all)-1].created {
				t.Fatalf("%s: %v listed after the older %v", op, i, all[len(all)-1])
			}
			all = append(all, i)
		}
		cursor = `"` + body["Cursor"].(string) + `"`
	}
}

// checkByWriter checks that walked lists every item of every writer, each
// writer's in the reverse order of their adding, and extra items more.
func checkByWriter(t *testing.T, walked []item, byWriter [][]item, extra int) {
	t.Helper()
	pos := make(map[string]int, len(walked))
	for i, it := range walked {
		pos[it.id] = i
	}
	n := extra
	for w, items := range byWriter {
		n += len(items)
		for i, it := range items {
			p, ok := pos[it.id]
			if !ok {
				t.Fatalf("item %d of writer %d (%s) not listed", i, w, it.id)
			}
			if i > 0 && p > pos[items[i-1].id] {
				t.Errorf("item %d of writer %d listed after the item added before it", i, w)
			}
		}
	}
	if len(walked) != n {
		t.Errorf("listed %d items, want %d", len(walked), n)
	}
}
