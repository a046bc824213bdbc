package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
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

// journalSchema is the journal's table. The journal is created anew at
// every start, so it has no migrations.
const journalSchema = `CREATE TABLE requests (
	seq               INTEGER PRIMARY KEY,
	request_id        BLOB NOT NULL,
	created_utc       INTEGER NOT NULL, -- Unix microseconds
	method            TEXT NOT NULL,
	operation         TEXT NOT NULL,
	integration_id    BLOB,
	integration_name  TEXT NOT NULL,
	enterprise_ids    TEXT NOT NULL,    -- JSON array of UUIDs
	access_token      TEXT NOT NULL,    -- masked
	access_token_hash BLOB,
	status            INTEGER NOT NULL,
	duration_us       INTEGER NOT NULL,
	request_body      TEXT,
	response_body     TEXT,
	truncated         INTEGER NOT NULL,
	message           TEXT NOT NULL,
	thread_ids        TEXT NOT NULL     -- JSON array of UUIDs
);
CREATE INDEX requests_order ON requests (created_utc, seq);`

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
		pragmas = append(pragmas, "journal_mode(MEMORY)", "locking_mode(EXCLUSIVE)")
	}
	err := db.prepareJournal(ctx, dsn(name, false, pragmas...))
	if file != "" {
		err = errors.Join(err, os.Remove(file))
	}
	return err
}

func (db *DB) prepareJournal(ctx context.Context, dsn string) error {
	var err error
	if db.journal, err = openPool(ctx, dsn, 1); err != nil {
		return err
	}
	if _, err := db.journal.ExecContext(ctx, journalSchema); err != nil {
		return fmt.Errorf("sqlite: create the request journal: %w", err)
	}
	if db.journalInsertOne, err = db.journal.PrepareContext(ctx, insertRequestSQL+placeholders(1, 16)); err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	if db.journalInsertMany, err = db.journal.PrepareContext(ctx, insertRequestSQL+placeholders(requestRows, 16)); err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	return nil
}

func (db *DB) closeJournal() error {
	if db.journal == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{db.journalInsertOne, db.journalInsertMany} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, db.journal.Close())...)
}

const insertRequestSQL = `INSERT INTO requests (request_id, created_utc, method, operation,
	integration_id, integration_name, enterprise_ids, access_token, access_token_hash,
	status, duration_us, request_body, response_body, truncated, message, thread_ids) VALUES `

// requestRows is how many entries one INSERT writes: fewer statements, and
// fewer trips through database/sql, for the same rows.
const requestRows = 32

// RequestsAdd records entries in one transaction, requestRows per
// prepared INSERT, and drops the oldest beyond keep. seq is SQLite's rowid,
// one more than the largest at every insert, so the newest keep entries are
// those within keep of the largest.
func (db *DB) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) (err error) {
	tx, err := db.journal.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("sqlite: journal: %w", err), tx.Rollback())
		}
	}()
	args := make([]any, 0, requestRows*16)
	for len(entries) > 0 {
		n := 1
		if len(entries) >= requestRows {
			n = requestRows
		}
		args = args[:0]
		for _, e := range entries[:n] {
			var integration any
			if e.IntegrationID != uuid.Nil {
				integration = blob(e.IntegrationID)
			}
			var hash any
			if e.AccessTokenHash != nil {
				hash = e.AccessTokenHash
			}
			args = append(args, blob(e.ID), mews.Instant(e.CreatedUTC).UnixMicro(), e.Method, e.Operation,
				integration, e.IntegrationName, uuidList(e.EnterpriseIDs), e.AccessToken, hash,
				e.Status, e.Duration.Microseconds(), nullString(e.RequestBody), nullString(e.ResponseBody),
				e.Truncated, e.Message, uuidList(e.ThreadIDs))
		}
		stmt := db.journalInsertOne
		if n == requestRows {
			stmt = db.journalInsertMany
		}
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM requests WHERE seq <= (SELECT max(seq) FROM requests) - ?`, keep); err != nil {
		return err
	}
	return tx.Commit()
}

const requestColumns = `request_id, created_utc, method, operation, integration_id, integration_name,
	enterprise_ids, access_token, status, duration_us, request_body, response_body, truncated, message, thread_ids`

// RequestsGetAll returns a page of the journal, newest first.
func (db *DB) RequestsGetAll(ctx context.Context, f mews.RequestFilter, p mews.Page) ([]mews.Request, error) {
	if err := checkCount(p.Count); err != nil {
		return nil, err
	}
	w := requestWhere(f)
	if p.Cursor != nil {
		// The cursor's entry is found by a scan of the (bounded) journal:
		// an index of request ids would cost every write more than the
		// scan costs a page.
		var pos position
		err := db.journal.QueryRowContext(ctx, "SELECT created_utc, seq FROM requests WHERE request_id = ?", blob(*p.Cursor)).
			Scan(&pos.created, &pos.seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the RequestId of an entry of the journal (it keeps the newest entries only, and requests/clear empties it).", *p.Cursor)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: journal cursor: %w", err)
		}
		w.add("(created_utc, seq) < (?, ?)", pos.created, pos.seq)
	}
	rows, err := db.journal.QueryContext(ctx, "SELECT "+requestColumns+" FROM requests"+w.String()+
		" ORDER BY created_utc DESC, seq DESC LIMIT ?", append(w.args, p.Count)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: journal: %w", err)
	}
	defer rows.Close()
	var out []mews.Request
	for rows.Next() {
		var (
			e                    mews.Request
			id, integration      []byte
			created, durationUS  int64
			enterprises, threads string
			reqBody, resBody     sql.NullString
		)
		if err := rows.Scan(&id, &created, &e.Method, &e.Operation, &integration, &e.IntegrationName,
			&enterprises, &e.AccessToken, &e.Status, &durationUS, &reqBody, &resBody, &e.Truncated, &e.Message, &threads); err != nil {
			return nil, fmt.Errorf("sqlite: journal: %w", err)
		}
		copy(e.ID[:], id)
		copy(e.IntegrationID[:], integration)
		e.CreatedUTC = time.UnixMicro(created).UTC()
		e.Duration = time.Duration(durationUS) * time.Microsecond
		if reqBody.Valid {
			e.RequestBody = &reqBody.String
		}
		if resBody.Valid {
			e.ResponseBody = &resBody.String
		}
		if e.EnterpriseIDs, err = parseUUIDList(enterprises); err != nil {
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
	w := requestWhere(f)
	var n int64
	if err := db.journal.QueryRowContext(ctx, "SELECT count(*) FROM requests"+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: journal: %w", err)
	}
	return n, nil
}

// RequestsClear deletes every entry.
func (db *DB) RequestsClear(ctx context.Context) error {
	if _, err := db.journal.ExecContext(ctx, "DELETE FROM requests"); err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	return nil
}

// requestWhere is the WHERE clause of f. The journal is bounded (the newest
// N entries), so a filter may read all of it; only the order has an index.
func requestWhere(f mews.RequestFilter) *where {
	w := &where{}
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

func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// uuidList is a list of identifiers as a JSON array of their text forms,
// which json_each can read.
func uuidList(ids []uuid.UUID) string {
	b := make([]byte, 0, 2+len(ids)*39)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), id.String()...), '"')
	}
	return string(append(b, ']'))
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
