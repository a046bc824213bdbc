package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// querier is what a read needs: a pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// position is where an item sits in the order of pages: pages run by
// (created, seq) descending, and a cursor's page holds the items below it.
type position struct {
	created int64 // created_utc
	seq     int64
}

// where accumulates the conditions of a WHERE clause and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col = ?" for one identifier and "col IN (?, ...)" for several.
// The equality form is what lets SQLite walk one index range in order, with
// no sort; for several it has to merge the ranges with a temporary B-tree.
func (w *where) in(col string, ids []uuid.UUID) {
	if len(ids) == 1 {
		w.add(col+" = ?", blob(ids[0]))
		return
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = blob(id)
	}
	w.add(col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+")", args...)
}

// scope adds the conditions that keep threads inside s. prefix goes before
// the column names: a table alias and a dot, or "+", which tells SQLite not
// to use an index for these terms (https://sqlite.org/optoverview.html#uplus).
func (w *where) scope(prefix string, s mews.Scope) {
	w.add(prefix+"integration_id = ?", blob(s.IntegrationID))
	w.in(prefix+"enterprise_id", s.EnterpriseIDs)
}

// between adds an inclusive interval on col.
func (w *where) between(col string, iv mews.Interval) {
	w.add(col+" BETWEEN ? AND ?", iv.Start.Unix(), iv.End.Unix())
}

// olderThan adds the cursor condition: items strictly older than p. The row
// value comparison is one range of the (..., created_utc, seq) index.
func (w *where) olderThan(p *position) {
	if p != nil {
		w.add("(created_utc, seq) < (?, ?)", p.created, p.seq)
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// blob is how identifiers are stored: their 16 bytes. uuid.UUID is a
// driver.Valuer that would store its text form, so it is never passed as is.
func blob(id uuid.UUID) []byte { return id[:] }

// utc is how times are read back: whole seconds, in UTC.
func utc(unix int64) time.Time { return time.Unix(unix, 0).UTC() }

// checkCount rejects a page size that SQLite would misread: LIMIT -1 is no
// limit at all. The server validates Count, so this is a bug of the caller.
func checkCount(n int) error {
	if n < 1 {
		return fmt.Errorf("sqlite: page count %d, want at least 1", n)
	}
	return nil
}
