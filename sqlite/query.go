package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// position is where an item sits in the order of pages: pages run by
// (created, seq) descending, and a cursor's page holds the items below it.
type position struct {
	created int64 // created_utc, Unix microseconds
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

// created is the range of created_utc that a page may read, the one range
// of the index that SQLite walks. Every bound of the page (the Created
// interval, the bound implied by an Updated interval, the cursor) narrows
// it here, in Go: given several upper bounds on the column, SQLite walks
// from only one of them, and if it picks the interval's end instead of the
// cursor, a page deep in history reads every newer row of the interval.
type created struct {
	lo, hi   int64 // inclusive, Unix microseconds
	hasLo    bool
	hasHi    bool
	afterSeq int64 // with hasAfter: items created at hi need seq < afterSeq
	hasAfter bool
}

func (c *created) atLeast(t int64) {
	if !c.hasLo || t > c.lo {
		c.lo, c.hasLo = t, true
	}
}

func (c *created) atMost(t int64) {
	if !c.hasHi || t < c.hi {
		c.hi, c.hasHi, c.hasAfter = t, true, false
	}
}

// within narrows the range to an inclusive interval.
func (c *created) within(iv mews.Interval) {
	lo, hi := iv.UnixMicros()
	c.atLeast(lo)
	c.atMost(hi)
}

// olderThan narrows the range to the items strictly older than p: created
// before p.created, or at the same instant and inserted before it.
func (c *created) olderThan(p *position) {
	if p == nil {
		return
	}
	if c.hasHi && c.hi < p.created {
		return // the range already ends before the cursor's instant
	}
	c.hi, c.hasHi = p.created, true
	c.afterSeq, c.hasAfter = p.seq, true
}

// addTo adds the range to w: created_utc bounds SQLite can seek on, and the
// tie-break at the cursor's instant as an OR, which it cannot mistake for
// another bound.
func (c *created) addTo(w *where) {
	if c.hasLo {
		w.add("created_utc >= ?", c.lo)
	}
	if c.hasHi {
		w.add("created_utc <= ?", c.hi)
	}
	if c.hasAfter {
		w.add("(created_utc < ? OR seq < ?)", c.hi, c.afterSeq)
	}
}

// part is one statement of a page. Its query ends in "LIMIT ?", whose
// argument, the number of rows still wanted, the reader appends to args
// (readParts): args holds the arguments of the other parameters only.
type part struct {
	q    string
	args []any
}

// parts returns the statements of a page inside c, with the conditions of
// base, of the items older than after if it is not nil; sql makes a
// statement of a WHERE clause. Without a cursor that is one statement over
// c. With one it is two, each a single range of the page order with no
// condition left to check on each row: the items created at the cursor's
// instant and inserted before it, then those created before that instant.
// As one statement, with the tie-break as a condition on each row
// ("created_utc < ? OR seq < ?"), SQLite walks from the end of the cursor's
// instant and reads and drops every item of that instant newer than the
// cursor first: the messages of one messages/add share their instant.
func (c created) parts(base where, after *position, sql func(*where) string) []part {
	var ps []part
	if after != nil && !(c.hasHi && c.hi < after.created) {
		if !c.hasLo || after.created >= c.lo {
			w := base.clone()
			w.add("created_utc = ?", after.created)
			w.add("seq < ?", after.seq)
			ps = append(ps, part{sql(&w), w.args})
		}
		c.hi, c.hasHi, c.hasAfter = after.created-1, true, false // instants are whole microseconds
		if c.hasLo && c.hi < c.lo {
			return ps
		}
	}
	w := base.clone()
	c.addTo(&w)
	return append(ps, part{sql(&w), w.args})
}

// clone returns a copy of w that shares nothing it could append to, with
// room for the two conditions of a tie-break and the LIMIT's argument.
func (w *where) clone() where {
	return where{
		conds: append(make([]string, 0, len(w.conds)+2), w.conds...),
		args:  append(make([]any, 0, len(w.args)+3), w.args...),
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// statement returns head + w + tail, a statement of the page path, built
// once per shape: the same head, conditions and tail give the same text,
// which the page path would otherwise join again on every request.
// Conditions are constants but for the IN lists of several ids, so the
// shapes are few; past maxShapes (many distinct IN lists) a statement is
// built and not kept.
func statement(head string, w *where, tail string) string {
	if len(w.conds) > len(shapeKey{}.conds) {
		return head + w.String() + tail
	}
	k := shapeKey{head: head, tail: tail}
	copy(k.conds[:], w.conds)
	shapes.RLock()
	q, ok := shapes.m[k]
	shapes.RUnlock()
	if ok {
		return q
	}
	q = head + w.String() + tail
	shapes.Lock()
	if len(shapes.m) < maxShapes {
		shapes.m[k] = q
	}
	shapes.Unlock()
	return q
}

// shapeKey is the shape of a statement: its head, its conditions in order
// (at most eight; the unused ones empty) and its tail.
type shapeKey struct {
	head, tail string
	conds      [8]string
}

// maxShapes bounds the statements that statement keeps.
const maxShapes = 1024

// shapes holds the statements built by statement, shared by every store
// of the process: a text depends on nothing but its shape.
var shapes = struct {
	sync.RWMutex
	m map[shapeKey]string
}{m: make(map[shapeKey]string)}

// blob is how identifiers are stored: their 16 bytes. uuid.UUID is a
// driver.Valuer that would store its text form, so it is never passed as is.
func blob(id uuid.UUID) []byte { return id[:] }

// micros is how instants are stored: Unix microseconds (mews.Resolution;
// finer digits are dropped, rounding down).
func micros(t time.Time) int64 { return t.UnixMicro() }

// utc is how instants are read back: from Unix microseconds, in UTC.
func utc(us int64) time.Time { return time.UnixMicro(us).UTC() }

// checkCount rejects a page size that SQLite would misread: LIMIT -1 is no
// limit at all. The server validates Count, so this is a bug of the caller.
func checkCount(n int) error {
	if n < 1 {
		return fmt.Errorf("sqlite: page count %d, want at least 1", n)
	}
	return nil
}

// The page reads, through the engine (engine.go): each reads its columns
// in the order of its query.

// endRead ends the read transaction of a page; if that fails (it should
// not: it wrote nothing), the page fails with it.
func endRead(tx *readTx, err *error) {
	if e := tx.end(); e != nil && *err == nil {
		*err = fmt.Errorf("sqlite: end a read: %w", e)
	}
}

// readThreads reads a page of threads of one statement, p, in the columns
// of threadColumns, with at most count rows: p's query ends in "LIMIT ?",
// whose argument (count) readParts adds.
func readThreads(ctx context.Context, e reader, count int, p part) ([]mews.Thread, error) {
	return readThreadParts(ctx, e, count, []part{p}, nil)
}

// The columns of an API page of threads in a scope: not its integration,
// nor its enterprise if there is only one, which the query requires to be
// those of the scope (two columns less to read on each row).
const (
	pageThreadColumnsOne  = "id, original_sender, subject, created_utc, updated_utc, is_resolved"
	pageThreadColumnsMany = pageThreadColumnsOne + ", enterprise_id"
)

// readThreadParts reads a page of threads from its parts, in order, until
// it has count rows: in the columns of threadColumns, or with a scope in
// those of pageThreadColumnsOne or pageThreadColumnsMany.
func readThreadParts(ctx context.Context, e reader, count int, parts []part, scope *mews.Scope) ([]mews.Thread, error) {
	var txt texts
	return readParts(ctx, e, count, parts, func(r *rows) mews.Thread {
		if scope == nil {
			return mews.Thread{
				ID:             r.uuid(0),
				IntegrationID:  r.uuid(1),
				EnterpriseID:   r.uuid(2),
				OriginalSender: txt.string(r.text(3)),
				Subject:        txt.string(r.text(4)),
				CreatedUTC:     utc(r.int64(5)),
				UpdatedUTC:     utc(r.int64(6)),
				IsResolved:     r.bool(7),
			}
		}
		t := mews.Thread{
			ID:             r.uuid(0),
			IntegrationID:  scope.IntegrationID,
			OriginalSender: txt.string(r.text(1)),
			Subject:        txt.string(r.text(2)),
			CreatedUTC:     utc(r.int64(3)),
			UpdatedUTC:     utc(r.int64(4)),
			IsResolved:     r.bool(5),
		}
		if len(scope.EnterpriseIDs) == 1 {
			t.EnterpriseID = scope.EnterpriseIDs[0]
		} else {
			t.EnterpriseID = r.uuid(6)
		}
		return t
	})
}

// readMessages reads a page of messages from its parts, in order, until it
// has count rows: id, thread_id, text, sender, created_utc.
func readMessages(ctx context.Context, e reader, count int, parts []part) ([]mews.Message, error) {
	var txt texts
	return readParts(ctx, e, count, parts, func(r *rows) mews.Message {
		return mews.Message{
			ID:         r.uuid(0),
			ThreadID:   r.uuid(1),
			Text:       txt.string(r.text(2)),
			Sender:     sender(r.text(3), &txt),
			CreatedUTC: utc(r.int64(4)),
		}
	})
}

// readParts reads the rows of parts, in order, each part's query given
// the rows still missing as its last argument (its LIMIT), until it has
// count items, each made of a row by item. No row at all is nil, as
// database/sql's reads returned it.
func readParts[T any](ctx context.Context, e reader, count int, parts []part, item func(*rows) T) ([]T, error) {
	items := make([]T, 0, min(count, maxPrealloc))
	for _, p := range parts {
		if len(items) == count {
			break
		}
		if !strings.HasSuffix(p.q, limitParam) {
			return nil, errors.New("sqlite: a statement of a page does not end in " + limitParam)
		}
		r, err := e.query(ctx, p.q, append(p.args, count-len(items))...)
		if err != nil {
			return nil, err
		}
		for r.next() {
			items = append(items, item(r))
		}
		if err := r.close(); err != nil {
			return nil, err
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	return items, nil
}

// limitParam ends every statement of a page: the rows it may return, which
// readParts binds.
const limitParam = "LIMIT ?"

// maxPrealloc bounds the rows a page reserves room for before it reads
// them.
const maxPrealloc = 100

// sender returns the Sender of b without copying it when it is one of the
// two that the schema allows.
func sender(b []byte, txt *texts) mews.Sender {
	switch mews.Sender(b) {
	case mews.SenderApplication:
		return mews.SenderApplication
	case mews.SenderEnterprise:
		return mews.SenderEnterprise
	}
	return mews.Sender(txt.string(b))
}

// readPosition reads the position (created_utc, seq) of the first row of
// q, and whether there is one.
func readPosition(ctx context.Context, e reader, q string, args []any) (p position, found bool, err error) {
	r, err := e.query(ctx, q, args...)
	if err != nil {
		return p, false, err
	}
	if r.next() {
		p, found = position{created: r.int64(0), seq: r.int64(1)}, true
	}
	return p, found, r.close()
}

// readIDSet reads the set of the identifiers in the first column of q's
// rows; n is the number of rows expected.
func readIDSet(ctx context.Context, e reader, n int, q string, args []any) (map[uuid.UUID]bool, error) {
	r, err := e.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	in := make(map[uuid.UUID]bool, n)
	for r.next() {
		in[r.uuid(0)] = true
	}
	if err := r.close(); err != nil {
		return nil, err
	}
	return in, nil
}
