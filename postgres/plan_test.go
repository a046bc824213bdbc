package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mewsref/mewsref/mews"
)

// planNode is one node of the JSON form of EXPLAIN.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	IndexName string     `json:"Index Name"`
	Relation  string     `json:"Relation Name"`
	Plans     []planNode `json:"Plans"`
}

// walk calls f on n and every node below it.
func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// String is the plan as indented lines, for the test log.
func (n planNode) String() string {
	var b strings.Builder
	var write func(planNode, int)
	write = func(n planNode, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth), n.NodeType)
		if n.IndexName != "" {
			fmt.Fprintf(&b, " using %s", n.IndexName)
		}
		if n.Relation != "" {
			fmt.Fprintf(&b, " on %s", n.Relation)
		}
		b.WriteByte('\n')
		for _, c := range n.Plans {
			write(c, depth+1)
		}
	}
	write(n, 0)
	return b.String()
}

// explain returns the plan that PostgreSQL chooses for q with args: a
// custom plan, for these values, as for the first executions of a prepared
// statement; with generic, the plan for any values, which PostgreSQL may
// switch to after five executions of a prepared statement (pgx prepares
// every query on each connection). conn must be a connection of its own:
// it is left with plan_cache_mode set.
func explain(t *testing.T, conn *pgx.Conn, generic bool, q string, args ...any) planNode {
	t.Helper()
	ctx := t.Context()
	stmt := "EXPLAIN (FORMAT JSON) " + q
	if generic {
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "PREPARE plan_check AS "+q); err != nil {
			t.Fatalf("PREPARE: %v\n%s", err, q)
		}
		defer func() {
			if _, err := conn.Exec(ctx, "DEALLOCATE plan_check"); err != nil {
				t.Fatal(err)
			}
		}()
		// EXECUTE takes no parameters of its own: the values go in as
		// literals.
		params := make([]string, len(args))
		for i, a := range args {
			params[i] = literal(t, a)
		}
		stmt, args = "EXPLAIN (FORMAT JSON) EXECUTE plan_check ("+strings.Join(params, ", ")+")", nil
	}
	var raw []byte
	if err := conn.QueryRow(ctx, stmt, args...).Scan(&raw); err != nil {
		t.Fatalf("%s: %v\n%s", stmt, err, q)
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN output %s: %v", raw, err)
	}
	return plans[0].Plan
}

// literal returns an argument of the engine's queries as an SQL literal.
func literal(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case uuid.UUID:
		return "'" + v.String() + "'::uuid"
	case []pgtype.UUID:
		ids := make([]string, len(v))
		for i, id := range v {
			ids[i] = uuid.UUID(id.Bytes).String()
		}
		return "'{" + strings.Join(ids, ",") + "}'::uuid[]"
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'::timestamptz"
	case int, int64:
		return fmt.Sprint(v)
	}
	t.Fatalf("no SQL literal for %T", v)
	return ""
}

// Sizes of the data of TestQueryPlans.
const (
	planThreads        = 120_000 // 60% of integration A in E1, 20% in E2, 20% of B in E1
	planThreadMessages = 2_000   // threads of A in E1 with 50 messages each
	planHotMessages    = 20_000  // the messages of one more thread
)

// TestQueryPlans checks, on 120k threads and 120k messages, that every query
// of the engine reads ranges of indexes, never a whole table (no Seq Scan),
// and that the pages of one enterprise or one thread come in index order
// with no Sort: the cost of a page is then its size, whatever the size of
// the tables. No query uses OFFSET: a page starts at its cursor's position
// in the index. Both the plans for the actual values and the generic plans
// of prepared statements are checked.
func TestQueryPlans(t *testing.T) {
	db := openFresh(t)
	ctx := t.Context()
	started := time.Now()
	a, b := uuid.New(), uuid.New()
	e1, e2 := uuid.New(), uuid.New()
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO threads (id, integration_id, enterprise_id, original_sender, subject, created_utc, updated_utc, is_resolved)
			SELECT gen_random_uuid(),
				CASE WHEN i % 5 = 4 THEN $2::uuid ELSE $1::uuid END,
				CASE WHEN i % 5 = 3 THEN $4::uuid ELSE $3::uuid END,
				'\x47'::bytea, '\x53'::bytea, ts, ts, false
			FROM generate_series(1, $5::int) AS i,
				LATERAL (SELECT $6::timestamptz + (i / 2) * interval '1 minute') AS c (ts)`,
			[]any{a, b, e1, e2, planThreads, base}},
		{`INSERT INTO messages (id, thread_id, text, sender, created_utc)
			SELECT gen_random_uuid(), t.id, '\x4d'::bytea, 'Application', t.created_utc + j * interval '1 second'
			FROM (SELECT id, created_utc FROM threads WHERE integration_id = $1 AND enterprise_id = $2
				ORDER BY seq LIMIT $3) AS t, generate_series(1, 50) AS j`,
			[]any{a, e1, planThreadMessages}},
		{`INSERT INTO messages (id, thread_id, text, sender, created_utc)
			SELECT gen_random_uuid(), t.id, '\x4d'::bytea, 'Enterprise', t.created_utc + j * interval '1 second'
			FROM (SELECT id, created_utc FROM threads WHERE integration_id = $1 AND enterprise_id = $2
				ORDER BY seq DESC LIMIT 1) AS t, generate_series(1, $3::int) AS j`,
			[]any{a, e1, planHotMessages}},
	} {
		if _, err := db.pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%v\n%s", err, q.sql)
		}
	}
	if _, err := db.pool.Exec(ctx, "ANALYZE threads, messages"); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threads and %d messages inserted and analyzed in %v",
		planThreads, planThreadMessages*50+planHotMessages, time.Since(started).Round(time.Millisecond))

	// Real items for the cursors and the filters.
	var hot, thread, message uuid.UUID
	var threadAt position
	if err := db.pool.QueryRow(ctx, `SELECT thread_id FROM messages GROUP BY thread_id ORDER BY count(*) DESC LIMIT 1`).Scan(&hot); err != nil {
		t.Fatal(err)
	}
	if err := db.pool.QueryRow(ctx, `SELECT id, created_utc, seq FROM threads WHERE seq = $1`, planThreads/2).Scan(&thread, &threadAt.created, &threadAt.seq); err != nil {
		t.Fatal(err)
	}
	var messageAt position
	if err := db.pool.QueryRow(ctx, `SELECT id, created_utc, seq FROM messages WHERE thread_id = $1 ORDER BY seq LIMIT 1 OFFSET $2`,
		hot, planHotMessages/2).Scan(&message, &messageAt.created, &messageAt.seq); err != nil {
		t.Fatal(err)
	}
	var someThreads []uuid.UUID
	rows, err := db.pool.Query(ctx, `SELECT thread_id FROM messages GROUP BY thread_id ORDER BY thread_id LIMIT 20`)
	if err != nil {
		t.Fatal(err)
	}
	if someThreads, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
		t.Fatal(err)
	}

	one := mews.Scope{IntegrationID: a, EnterpriseIDs: []uuid.UUID{e1}}
	two := mews.Scope{IntegrationID: a, EnterpriseIDs: []uuid.UUID{e1, e2}}
	week := &mews.Interval{Start: base.Add(10 * 24 * time.Hour), End: base.Add(17 * 24 * time.Hour)}
	// The month of the hot thread's messages.
	month := &mews.Interval{Start: messageAt.created.Add(-15 * 24 * time.Hour), End: messageAt.created.Add(15 * 24 * time.Hour)}
	threadsPage := func(f mews.ThreadFilter, after *position) func() (string, []any) {
		return func() (string, []any) { return threadsPageQuery(f, after) }
	}
	type check struct {
		name  string
		query func() (string, []any)
		index string // that the plan must use
		// sorted: the index gives the order, so no Sort node, and a Limit
		// on top stops the walk after Count rows.
		sorted bool
	}
	checks := []check{
		{"threads first page", threadsPage(mews.ThreadFilter{Scope: one, Created: week, Page: mews.Page{Count: 100}}, nil),
			"threads_scope_created", true},
		{"threads cursor page", threadsPage(mews.ThreadFilter{Scope: one, Created: week, Page: mews.Page{Count: 100}}, &threadAt),
			"threads_scope_created", true},
		{"threads by Updated after a cursor", threadsPage(mews.ThreadFilter{Scope: one, Updated: week, Page: mews.Page{Count: 100}}, &threadAt),
			"threads_scope_created", true},
		{"threads of a portfolio after a cursor", threadsPage(mews.ThreadFilter{Scope: two, Created: week, Page: mews.Page{Count: 100}}, &threadAt),
			"threads_scope_created", false},
		{"threads by IDs", threadsPage(mews.ThreadFilter{Scope: two, IDs: someThreads, Created: week, Page: mews.Page{Count: 100}}, nil),
			"threads_pkey", false},
		{"thread cursor", func() (string, []any) { return threadPositionQuery(two, thread) },
			"threads_pkey", false},
		{"threads in scope", func() (string, []any) { return threadsInScopeQuery(two, someThreads, false) },
			"threads_pkey", false},
		{"threads in scope, locked", func() (string, []any) { return threadsInScopeQuery(two, someThreads, true) },
			"threads_pkey", false},
		{"messages of a thread", func() (string, []any) { return messagesPageQuery([]uuid.UUID{hot}, nil, nil, 100) },
			"messages_thread_created", true},
		{"messages of a thread after a cursor", func() (string, []any) { return messagesPageQuery([]uuid.UUID{hot}, nil, &messageAt, 100) },
			"messages_thread_created", true},
		{"messages of a thread by Created", func() (string, []any) { return messagesPageQuery([]uuid.UUID{hot}, month, nil, 100) },
			"messages_thread_created", true},
		{"messages of threads after a cursor", func() (string, []any) {
			return messagesPageQuery(append(someThreads, hot), month, &messageAt, 100)
		}, "messages_thread_created", false},
		{"message cursor", func() (string, []any) { return messagePositionQuery(two, message) },
			"messages_pkey", false},
	}

	pooled, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := pooled.Hijack() // its settings change: it does not go back to the pool
	defer conn.Close(context.Background())
	for _, generic := range []bool{false, true} {
		mode := "custom"
		if generic {
			mode = "generic"
		}
		for _, c := range checks {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				q, args := c.query()
				if strings.Contains(strings.ToUpper(q), "OFFSET") {
					t.Errorf("query uses OFFSET: %s", q)
				}
				plan := explain(t, conn, generic, q, args...)
				t.Logf("plan:\n%s", plan)
				var nodes, scans []string // node types; index scans as "type index"
				plan.walk(func(n planNode) {
					nodes = append(nodes, n.NodeType)
					if n.IndexName != "" {
						scans = append(scans, n.NodeType+" "+n.IndexName)
					}
				})
				if slices.Contains(nodes, "Seq Scan") {
					t.Error("reads a whole table (Seq Scan)")
				}
				want := []string{"Index Scan " + c.index, "Index Only Scan " + c.index}
				if !c.sorted {
					// A lookup of a few ids may also collect them in a
					// bitmap first.
					want = append(want, "Bitmap Index Scan "+c.index)
				}
				if !slices.ContainsFunc(scans, func(s string) bool { return slices.Contains(want, s) }) {
					t.Errorf("no %s", strings.Join(want, " or "))
				}
				if c.sorted && (slices.Contains(nodes, "Sort") || plan.NodeType != "Limit") {
					t.Error("does not read the page in index order (a Sort, or no Limit on top)")
				}
			})
		}
	}
	t.Logf("TestQueryPlans took %v", time.Since(started).Round(time.Millisecond))
}
