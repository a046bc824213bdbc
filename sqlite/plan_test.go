package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// explain returns the lines of the query plan that SQLite chooses for q on
// the connections that run the pages: the engine's, whose statements keep
// the plan they were prepared with (the planner stability guarantee).
func (db *DB) explain(ctx context.Context, q string, args ...any) ([]string, error) {
	r, err := db.engine.query(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	var plan []string
	for r.next() {
		plan = append(plan, string(r.text(3)))
	}
	if err := r.close(); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	return plan, nil
}

// TestQueryPlans checks that the queries of pages and cursors read ranges of
// indexes, never whole tables, and that with one enterprise or one thread the
// index order is the page order, with no sort: the cost of a page is then
// its size, whatever the size of the tables.
func TestQueryPlans(t *testing.T) {
	db := openClosed(t, t.TempDir()+"/plan.db")
	one := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	two := mews.Scope{IntegrationID: one.IntegrationID, EnterpriseIDs: []uuid.UUID{uuid.New(), uuid.New()}}
	iv := &mews.Interval{Start: time.Unix(1e9, 0), End: time.Unix(1e9+3600, 0)}
	cursor := &position{created: iv.Start.UnixMicro() + 60e6, seq: 42} // inside iv
	ids := []uuid.UUID{uuid.New(), uuid.New()}

	type query struct {
		sql  string
		args []any
	}
	q := func(sql string, args []any) []query { return []query{{sql, args}} }
	// ps: every statement of a page, with its LIMIT.
	ps := func(parts []part) []query {
		var qs []query
		for _, p := range parts {
			qs = append(qs, query{p.q, append(p.args, 10)})
		}
		return qs
	}
	for _, c := range []struct {
		name    string
		qs      []query
		indexes []string // that the plan must use
		sorted  bool     // the index gives the order: no temporary B-tree
	}{
		{"threads by Updated after a cursor", ps(threadsPageQuery(mews.ThreadFilter{Scope: one, Updated: iv, Page: mews.Page{Count: 10}}, cursor)),
			[]string{threadsKey}, true},
		{"threads by Created", ps(threadsPageQuery(mews.ThreadFilter{Scope: one, Created: iv, Page: mews.Page{Count: 10}}, nil)),
			[]string{threadsKey}, true},
		{"threads by Created after a cursor", ps(threadsPageQuery(mews.ThreadFilter{Scope: one, Created: iv, Page: mews.Page{Count: 10}}, cursor)),
			[]string{threadsKey}, true},
		{"threads of a portfolio by Created", ps(threadsPageQuery(mews.ThreadFilter{Scope: two, Created: iv, Page: mews.Page{Count: 10}}, cursor)),
			[]string{threadsKey}, false},
		{"threads by IDs", ps(threadsPageQuery(mews.ThreadFilter{Scope: one, IDs: ids, Page: mews.Page{Count: 10}}, cursor)),
			[]string{"threads_id"}, false},
		{"thread cursor", q(threadPositionQuery(two, ids[0])),
			[]string{"threads_id"}, true},
		{"thread cursor in one enterprise", q(threadPositionQuery(one, ids[0])),
			[]string{"threads_id"}, true},
		{"threads in scope", q(threadsInScopeQuery(two, ids)),
			[]string{"threads_id"}, true},
		{"threads touched by messages/add", q(touchThreadsSQL(10), append(append([]any{int64(1e9)}, blobs(10)...), blob(one.IntegrationID))),
			[]string{"threads_id"}, true},
		{"threads of one enterprise in scope", q(threadsInScopeQuery(one, append(ids, uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()))),
			[]string{"threads_id"}, true},
		{"messages of a thread after a cursor", ps(messagesPageQuery(ids[:1], nil, cursor)),
			[]string{messagesKey}, true},
		{"messages of a thread by Created", ps(messagesPageQuery(ids[:1], iv, nil)),
			[]string{messagesKey}, true},
		{"messages of threads after a cursor", ps(messagesPageQuery(ids, iv, cursor)),
			[]string{messagesKey}, false},
		{"message cursor", q(messagePositionQuery(ids[0])),
			[]string{"messages_id"}, true},
		{"threads of an import", q(lookUpThreadsSQL, []any{jsonIDs(ids)}),
			[]string{"threads_id"}, true},
		{"messages of an import", q(lookUpMessagesSQL, []any{jsonIDs(ids)}),
			[]string{"messages_id"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var plan []string
			for _, q := range c.qs {
				p, err := db.explain(t.Context(), q.sql, q.args...)
				if err != nil {
					t.Fatal(err)
				}
				plan = append(plan, p...)
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			for _, line := range plan {
				// The one scan allowed is of a list of ids given (json_each).
				if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, " VIRTUAL TABLE ") {
					t.Errorf("full scan: %s", line)
				}
				if strings.HasPrefix(line, "SEARCH ") && !strings.Contains(line, " USING ") {
					t.Errorf("search without index: %s", line)
				}
			}
			for _, ix := range c.indexes {
				if !strings.Contains(text, "USING INDEX "+ix+" ") && !strings.Contains(text, "USING COVERING INDEX "+ix+" ") &&
					!strings.Contains(text, ix+" (") {
					t.Errorf("index %s not used", ix)
				}
			}
			if c.sorted && strings.Contains(text, "USE TEMP B-TREE FOR ORDER BY") {
				t.Error("sorts instead of reading in index order")
			}
		})
	}
}

// The page order is the primary key of threads and messages (migration
// 0006): a page walks the table's own B-tree.
const (
	threadsKey  = "SEARCH threads USING PRIMARY KEY"
	messagesKey = "SEARCH messages USING PRIMARY KEY"
)

func blobs(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = blob(uuid.New())
	}
	return out
}
