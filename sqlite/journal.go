package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.Journal = (*DB)(nil)

// The request journal lives in a database of its own, not in the data's
// file: its writes must not queue behind the API's writes for the one write
// lock of the data's file, nor add to the log that every commit of the API
// syncs (synchronous=FULL), nor to the checkpoints. It is diagnostic, not
// durable: it is kept with synchronous=OFF and its rollback journal in
// memory, so writing it never syncs, and locked by this process alone, so a
// write takes no file locks; it starts empty. Beside a data file it is an
// unlinked file (see openJournal): on disk, so that a full journal costs
// page cache rather than the process's memory. With an in-memory store it
// is in memory too.

// journalSchema is the journal's table: the columns that filters and the
// order of pages read, and the rest of the entry as one value (entry,
// see encodeEntry), so that a write binds 8 values per row rather than
// 16. The journal is created anew at every start, so it has no
// migrations.
const journalSchema = `CREATE TABLE requests (
	seq               INTEGER PRIMARY KEY,
	request_id        BLOB NOT NULL,
	created_utc       INTEGER NOT NULL, -- Unix microseconds
	operation         TEXT NOT NULL,
	integration_id    BLOB,
	access_token_hash BLOB,
	status            INTEGER NOT NULL,
	thread_ids        TEXT NOT NULL,    -- JSON array of UUIDs
	entry             BLOB NOT NULL     -- the other fields: encodeEntry
);
CREATE INDEX requests_order ON requests (created_utc, seq);`

// requestValues is how many values a row of requests binds.
const requestValues = 8

// openJournal opens the journal's database for the data at path: for a
// data file, a new file beside it, removed from the directory as soon as
// SQLite has it open. The open file lives on until Close, and SQLite never
// opens it again (one connection that stays open, its rollback journal in
// memory, the lock exclusive), so the journal leaves nothing behind, not
// even after a crash, and two processes on one data file have a journal
// each.
func (db *DB) openJournal(ctx context.Context, path string) error {
	name := Memory
	pragmas := []string{"synchronous(OFF)"}
	var file string
	if path != Memory {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-requests-*")
		if err != nil {
			return fmt.Errorf("sqlite: create the request journal: %w", err)
		}
		file = f.Name()
		if err := f.Close(); err != nil {
			return errors.Join(fmt.Errorf("sqlite: create the request journal: %w", err), os.Remove(file))
		}
		name = "file:" + (&url.URL{Path: file}).EscapedPath()
		// A page cache of 512 KiB rather than SQLite's 2 MiB: the journal
		// only appends at the end of its table and index and prunes at
		// their start, and reads of it are rare, so a small cache holds
		// its working set; the rest stays in the file (the system's page
		// cache), not in the process's resident memory.
		pragmas = append(pragmas, "journal_mode(MEMORY)", "locking_mode(EXCLUSIVE)", "cache_size(-512)")
	}
	err := db.prepareJournal(ctx, dsn(name, false, pragmas...))
	if file != "" {
		err = errors.Join(err, os.Remove(file))
	}
	return err
}

// journal is the journal's database, its statements, and where its
// entries are: seq is SQLite's rowid, one more than the largest at every
// insert (one writer, the recorder), so the entries present are the seqs
// low..last, and the newest keep those above last-keep. Pruning waits until
// pruneSlack entries are beyond keep, then deletes them with one statement;
// until then the reads leave them out (visible).
type journal struct {
	db                           *sql.DB
	insertOne, insertMany, prune *sql.Stmt

	mu   sync.Mutex
	buf  []byte // RequestsAdd's, for the entries it encodes
	keep int64  // of the last RequestsAdd; 0: no entry yet
	low  int64  // no entry has a smaller seq
	last int64  // the largest seq
}

// pruneSlack is how many entries beyond keep wait for a prune: a quarter
// of keep, so that one DELETE of many rows replaces one per write.
func pruneSlack(keep int64) int64 { return max(keep/4, requestRows) }

// visible is the smallest seq of the newest keep entries.
func (j *journal) visible() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return max(j.last-j.keep+1, 0)
}

func (db *DB) prepareJournal(ctx context.Context, dsn string) error {
	j := &db.journal
	var err error
	if j.db, err = openPool(ctx, dsn, 1); err != nil {
		return err
	}
	if _, err := j.db.ExecContext(ctx, journalSchema); err != nil {
		return fmt.Errorf("sqlite: create the request journal: %w", err)
	}
	for _, st := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&j.insertOne, insertRequestSQL + placeholders(1, requestValues)},
		{&j.insertMany, insertRequestSQL + placeholders(requestRows, requestValues)},
		{&j.prune, "DELETE FROM requests WHERE seq < ?"},
	} {
		if *st.stmt, err = j.db.PrepareContext(ctx, st.sql); err != nil {
			return fmt.Errorf("sqlite: journal: %w", err)
		}
	}
	return nil
}

func (db *DB) closeJournal() error {
	j := &db.journal
	if j.db == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{j.insertOne, j.insertMany, j.prune} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, j.db.Close())...)
}

const insertRequestSQL = `INSERT INTO requests (request_id, created_utc, operation,
	integration_id, access_token_hash, status, thread_ids, entry) VALUES `

// requestRows is how many entries one INSERT writes: fewer statements, and
// fewer trips through database/sql, for the same rows.
const requestRows = 32

// RequestsAdd records entries in one transaction, requestRows per
// prepared INSERT; the oldest beyond keep leave the reads at once, and the
// table in groups (see journal).
func (db *DB) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) (err error) {
	j := &db.journal
	if len(entries) == 0 {
		return nil
	}
	// j.mu for the whole write, lest a RequestsClear come between its
	// commit and the update of j (all of them wait for the journal's one
	// connection anyway).
	j.mu.Lock()
	defer j.mu.Unlock()
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("sqlite: journal: %w", err), tx.Rollback())
		}
	}()
	args := make([]any, 0, requestRows*requestValues)
	var last int64
	for len(entries) > 0 {
		n := 1
		if len(entries) >= requestRows {
			n = requestRows
		}
		args, j.buf = args[:0], j.buf[:0]
		for i := range entries[:n] {
			e := &entries[i]
			var integration, hash any
			if e.IntegrationID != uuid.Nil {
				integration = blob(e.IntegrationID)
			}
			if e.AccessTokenHash != nil {
				hash = e.AccessTokenHash
			}
			start := len(j.buf)
			j.buf = encodeEntry(j.buf, e)
			args = append(args, blob(e.ID), mews.Instant(e.CreatedUTC).UnixMicro(), e.Operation,
				integration, hash, e.Status, uuidList(e.ThreadIDs), j.buf[start:len(j.buf):len(j.buf)])
		}
		stmt := j.insertOne
		if n == requestRows {
			stmt = j.insertMany
		}
		res, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		if last, err = res.LastInsertId(); err != nil {
			return err
		}
		entries = entries[n:]
	}
	low := j.low
	if floor := last - int64(keep) + 1; floor-low >= pruneSlack(int64(keep)) {
		if _, err := tx.StmtContext(ctx, j.prune).ExecContext(ctx, floor); err != nil {
			return err
		}
		low = floor
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	j.keep, j.low, j.last = int64(keep), low, last
	return nil
}

const requestColumns = `request_id, created_utc, operation, integration_id, status, thread_ids, entry`

// RequestsGetAll returns a page of the journal, newest first.
func (db *DB) RequestsGetAll(ctx context.Context, f mews.RequestFilter, p mews.Page) ([]mews.Request, error) {
	if err := checkCount(p.Count); err != nil {
		return nil, err
	}
	j := &db.journal
	visible := j.visible()
	w := requestWhere(f, visible)
	if p.Cursor != nil {
		// The cursor's entry is found by a scan of the (bounded) journal:
		// an index of request ids would cost every write more than the
		// scan costs a page.
		var pos position
		err := j.db.QueryRowContext(ctx, "SELECT created_utc, seq FROM requests WHERE request_id = ? AND seq >= ?", blob(*p.Cursor), visible).
			Scan(&pos.created, &pos.seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the RequestId of an entry of the journal (it keeps the newest entries only, and requests/clear empties it).", *p.Cursor)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: journal cursor: %w", err)
		}
		w.add("(created_utc, seq) < (?, ?)", pos.created, pos.seq)
	}
	rows, err := j.db.QueryContext(ctx, "SELECT "+requestColumns+" FROM requests"+w.String()+
		" ORDER BY created_utc DESC, seq DESC LIMIT ?", append(w.args, p.Count)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: journal: %w", err)
	}
	defer rows.Close()
	var out []mews.Request
	for rows.Next() {
		var (
			e               mews.Request
			id, integration []byte
			created         int64
			threads         string
			entry           sql.RawBytes
		)
		if err := rows.Scan(&id, &created, &e.Operation, &integration, &e.Status, &threads, &entry); err != nil {
			return nil, fmt.Errorf("sqlite: journal: %w", err)
		}
		copy(e.ID[:], id)
		copy(e.IntegrationID[:], integration)
		e.CreatedUTC = time.UnixMicro(created).UTC()
		if err := decodeEntry(entry, &e); err != nil {
			return nil, err
		}
		if e.ThreadIDs, err = parseUUIDList(threads); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: journal: %w", err)
	}
	return out, nil
}

// RequestsCount counts the entries that match f.
func (db *DB) RequestsCount(ctx context.Context, f mews.RequestFilter) (int64, error) {
	w := requestWhere(f, db.journal.visible())
	var n int64
	if err := db.journal.db.QueryRowContext(ctx, "SELECT count(*) FROM requests"+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: journal: %w", err)
	}
	return n, nil
}

// RequestsClear deletes every entry.
func (db *DB) RequestsClear(ctx context.Context) error {
	j := &db.journal
	// Under j.mu (see RequestsAdd): the seqs start again at 1.
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.db.ExecContext(ctx, "DELETE FROM requests"); err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	j.low, j.last = 0, 0
	return nil
}

// requestWhere is the WHERE clause of f, over the entries from seq
// visible. The journal is bounded (the newest N entries), so a filter may
// read all of it; only the order has an index.
func requestWhere(f mews.RequestFilter, visible int64) *where {
	w := &where{}
	if visible > 0 {
		w.add("seq >= ?", visible)
	}
	if len(f.Operations) > 0 {
		args := make([]any, len(f.Operations))
		for i, op := range f.Operations {
			args[i] = op
		}
		w.add("operation IN ("+list(len(args))+")", args...)
	}
	if len(f.IntegrationIDs) > 0 {
		w.in("integration_id", f.IntegrationIDs)
	}
	if f.AccessTokenHash != nil {
		w.add("access_token_hash = ?", f.AccessTokenHash)
	}
	if len(f.Statuses) > 0 {
		args := make([]any, len(f.Statuses))
		for i, s := range f.Statuses {
			args[i] = s
		}
		w.add("status IN ("+list(len(args))+")", args...)
	}
	if f.Created != nil {
		w.add("created_utc BETWEEN ? AND ?", f.Created.Start.UnixMicro(), f.Created.End.UnixMicro())
	}
	if len(f.IDs) > 0 {
		w.in("request_id", f.IDs)
	}
	if len(f.ThreadIDs) > 0 {
		args := make([]any, len(f.ThreadIDs))
		for i, id := range f.ThreadIDs {
			args[i] = id.String()
		}
		w.add("EXISTS (SELECT 1 FROM json_each(thread_ids) WHERE value IN ("+list(len(args))+"))", args...)
	}
	return w
}

// uuidList is a list of identifiers as a JSON array of their text forms,
// which json_each can read.
func uuidList(ids []uuid.UUID) string {
	if len(ids) == 0 {
		return "[]"
	}
	var buf [2 + 4*39]byte // one allocation, the string, up to 4 ids
	b := append(buf[:0], '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendUUID(append(b, '"'), id), '"')
	}
	return string(append(b, ']'))
}

// appendUUID appends the text form of id, as id.String() gives it.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var t [36]byte
	hex.Encode(t[:8], id[:4])
	t[8] = '-'
	hex.Encode(t[9:13], id[4:6])
	t[13] = '-'
	hex.Encode(t[14:18], id[6:8])
	t[18] = '-'
	hex.Encode(t[19:23], id[8:10])
	t[23] = '-'
	hex.Encode(t[24:], id[10:])
	return append(b, t[:]...)
}

func parseUUIDList(s string) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, fmt.Errorf("sqlite: journal: identifiers %q: %w", s, err)
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, nil
}

// encodeEntry appends to b the fields of e that have no column of their
// own: a string is its length (uvarint) and bytes; a nil body has the
// length 0 and a bit of flags.
func encodeEntry(b []byte, e *mews.Request) []byte {
	var flags byte
	if e.Truncated {
		flags |= 1
	}
	if e.RequestBody != nil {
		flags |= 2
	}
	if e.ResponseBody != nil {
		flags |= 4
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(e.Duration.Microseconds()))
	b = binary.AppendUvarint(b, uint64(len(e.EnterpriseIDs)))
	for _, id := range e.EnterpriseIDs {
		b = append(b, id[:]...)
	}
	for _, s := range [...]*string{&e.Method, &e.IntegrationName, &e.AccessToken, &e.Message, e.RequestBody, e.ResponseBody} {
		if s == nil {
			b = append(b, 0)
			continue
		}
		b = append(binary.AppendUvarint(b, uint64(len(*s))), *s...)
	}
	return b
}

// decodeEntry reads into e what encodeEntry wrote.
func decodeEntry(b []byte, e *mews.Request) error {
	bad := fmt.Errorf("sqlite: journal: an entry of %d bytes that is not one", len(b))
	if len(b) < 1 {
		return bad
	}
	flags := b[0]
	b = b[1:]
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	us, ok := uvarint()
	if !ok {
		return bad
	}
	e.Duration = time.Duration(us) * time.Microsecond
	n, ok := uvarint()
	if !ok || n > uint64(len(b)/16) {
		return bad
	}
	e.EnterpriseIDs = make([]uuid.UUID, n)
	for i := range e.EnterpriseIDs {
		e.EnterpriseIDs[i] = uuid.UUID(b[:16])
		b = b[16:]
	}
	var reqBody, resBody string
	for _, s := range [...]*string{&e.Method, &e.IntegrationName, &e.AccessToken, &e.Message, &reqBody, &resBody} {
		n, ok := uvarint()
		if !ok || n > uint64(len(b)) {
			return bad
		}
		*s, b = string(b[:n]), b[n:]
	}
	if len(b) != 0 {
		return bad
	}
	e.Truncated = flags&1 != 0
	if flags&2 != 0 {
		e.RequestBody = &reqBody
	}
	if flags&4 != 0 {
		e.ResponseBody = &resBody
	}
	return nil
}
