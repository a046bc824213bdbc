package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mewsref/mewsref/mews"
)

// querier is what a read needs: the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// position is where an item sits in the order of pages: pages run by
// (created, seq) descending, and a cursor's page holds the items below it.
type position struct {
	created time.Time // created_utc
	seq     int64
}

// where accumulates the conditions of a WHERE clause and the arguments of
// the whole query, whose placeholders it numbers.
type where struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

// scope adds the conditions that keep threads inside s; prefix goes before
// the column names (a table alias and a dot).
func (w *where) scope(prefix string, s mews.Scope) {
	w.add(prefix + "integration_id = " + w.arg(s.IntegrationID))
	w.add(prefix + "enterprise_id = ANY (" + w.arg(uuids(distinct(s.EnterpriseIDs))) + ")")
}

// between adds an inclusive interval on col, narrowed to the instants that
// the column can hold (see mews.Interval.UnixMicros).
func (w *where) between(col string, iv mews.Interval) {
	lo, hi := iv.UnixMicros()
	w.add(col + " BETWEEN " + w.arg(time.UnixMicro(lo).UTC()) + " AND " + w.arg(time.UnixMicro(hi).UTC()))
}

// olderThan adds the cursor condition: items strictly older than p. The row
// value comparison is one range of the (..., created_utc, seq) index.
func (w *where) olderThan(p *position) {
	if p != nil {
		w.add("(created_utc, seq) < (" + w.arg(p.created) + ", " + w.arg(p.seq) + ")")
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// newestFirst is the order of pages.
const newestFirst = " ORDER BY created_utc DESC, seq DESC"

// pageQuery returns the query of a page: the newest count rows of table
// whose key column equals one of keys and that match w's conditions, newest
// first. columns is the select list, plain column names separated by ", ".
//
// With one key it is a single backward walk of the index that starts with
// (key, created_utc, seq), stopping after count rows. With several, "key =
// ANY" would read every row of every key and sort them; instead each key gets
// its own walk of at most count rows (a LATERAL subquery), and only those are
// sorted: the cost of a page is bounded by the number of keys times count,
// whatever the size of the table. keys must be distinct.
func pageQuery(w *where, columns, table, key string, keys []uuid.UUID, count int) string {
	if len(keys) == 1 {
		w.add(key + " = " + w.arg(keys[0]))
		return "SELECT " + columns + " FROM " + table + w.String() + newestFirst + " LIMIT " + w.arg(count)
	}
	w.add(key + " = k.key")
	keysArg, limit := w.arg(uuids(keys)), w.arg(count)
	return "SELECT p." + strings.ReplaceAll(columns, ", ", ", p.") +
		" FROM unnest(" + keysArg + "::uuid[]) AS k (key) CROSS JOIN LATERAL (SELECT " + columns + ", seq FROM " + table +
		w.String() + newestFirst + " LIMIT " + limit + ") AS p" + newestFirst + " LIMIT " + limit
}

// distinct returns ids without repetitions, in their first order. Scopes
// and filters come from requests, which may name an id twice; a LATERAL walk
// per key would then return its rows twice.
func distinct(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// uuids returns ids as a query argument of type uuid[]. pgx knows the type
// of []pgtype.UUID, but not of []uuid.UUID, which it can then send only in
// its binary form, on a statement it has prepared: the other query modes
// of pgx (default_query_exec_mode=exec, simple_protocol, used behind
// PgBouncer) would fail on it.
func uuids(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgtype.UUID{Bytes: id, Valid: true}
	}
	return out
}

// instant is how the instants of threads and messages are written: to the
// microsecond (mews.Resolution, what timestamptz holds), rounded down as
// SQLite's engine does.
func instant(t time.Time) time.Time { return mews.Instant(t) }

// second is how the times of webhook deliveries are written: whole seconds.
func second(t time.Time) time.Time { return t.Truncate(time.Second).UTC() }

// utc is how times are read back: pgx returns them in the local time zone.
func utc(t time.Time) time.Time { return t.UTC() }

// checkCount rejects a page size that is no page: LIMIT 0 would answer an
// empty page, as if there were no more items. The server validates Count,
// so this is a bug of the caller.
func checkCount(n int) error {
	if n < 1 {
		return fmt.Errorf("postgres: page count %d, want at least 1", n)
	}
	return nil
}
