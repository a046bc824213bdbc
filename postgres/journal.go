package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.Journal = (*DB)(nil)

// The request journal is the table requests (migration 0004), shared by
// every replica: one query sees the traffic of the whole deployment. seq
// comes from one sequence, so pruning to the newest keep entries is one
// range of the primary key, whichever replica prunes.

var requestCopyColumns = []string{"request_id", "created_utc", "method", "operation",
	"integration_id", "integration_name", "enterprise_ids", "access_token", "access_token_hash",
	"status", "duration_us", "request_body", "response_body", "truncated", "message", "thread_ids"}

// RequestsAdd records entries with one COPY and drops the oldest beyond
// keep. It does not ask for synchronous_commit: the journal is diagnostic.
func (db *DB) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) error {
	rows := make([][]any, len(entries))
	for i, e := range entries {
		integration := pgtype.UUID{Bytes: e.IntegrationID, Valid: e.IntegrationID != uuid.Nil}
		rows[i] = []any{pgtype.UUID{Bytes: e.ID, Valid: true}, e.CreatedUTC, pgText(e.Method), pgText(e.Operation),
			integration, pgText(e.IntegrationName), uuids(e.EnterpriseIDs), pgText(e.AccessToken), e.AccessTokenHash,
			e.Status, e.Duration.Microseconds(), pgTextPtr(e.RequestBody), pgTextPtr(e.ResponseBody), e.Truncated, pgText(e.Message), uuids(e.ThreadIDs)}
	}
	// Three round trips: the journal needs no wait for the WAL flush (see
	// the README), and the prune to the newest keep goes with the commit.
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{
		BeginQuery:  "BEGIN; SET LOCAL synchronous_commit = off",
		CommitQuery: "DELETE FROM requests WHERE seq <= (SELECT max(seq) FROM requests) - " + strconv.Itoa(keep) + "; COMMIT",
	})
	if err != nil {
		return fmt.Errorf("postgres: journal: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"requests"}, requestCopyColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("postgres: journal: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: journal: %w", err)
	}
	return nil
}

// pgText is s as PostgreSQL's text holds it: valid UTF-8 without NUL.
// A request's path and body can be any bytes, and one that text cannot
// hold fails the COPY of the whole batch; such bytes become U+FFFD, as
// the JSON of the admin API shows them. s itself when text holds it.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func pgTextPtr(s *string) *string {
	if s == nil {
		return nil
	}
	if t := pgText(*s); t != *s {
		return &t
	}
	return s
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
		var pos position
		err := db.pool.QueryRow(ctx, "SELECT created_utc, seq FROM requests WHERE request_id = $1", *p.Cursor).Scan(&pos.created, &pos.seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the RequestId of an entry of the journal (it keeps the newest entries only, and requests/clear empties it).", *p.Cursor)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: journal cursor: %w", err)
		}
		w.olderThan(&pos)
	}
	rows, err := db.pool.Query(ctx, "SELECT "+requestColumns+" FROM requests"+w.String()+newestFirst+" LIMIT "+w.arg(p.Count), w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: journal: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanRequest)
	if err != nil {
		return nil, fmt.Errorf("postgres: journal: %w", err)
	}
	return out, nil
}

func scanRequest(row pgx.CollectableRow) (mews.Request, error) {
	var (
		e                    mews.Request
		id, integration      pgtype.UUID
		enterprises, threads []pgtype.UUID
		durationUS           int64
	)
	err := row.Scan(&id, &e.CreatedUTC, &e.Method, &e.Operation, &integration, &e.IntegrationName,
		&enterprises, &e.AccessToken, &e.Status, &durationUS, &e.RequestBody, &e.ResponseBody, &e.Truncated, &e.Message, &threads)
	e.ID, e.IntegrationID = id.Bytes, integration.Bytes
	e.CreatedUTC = e.CreatedUTC.UTC()
	e.Duration = time.Duration(durationUS) * time.Microsecond
	e.EnterpriseIDs, e.ThreadIDs = fromUUIDs(enterprises), fromUUIDs(threads)
	return e, err
}

func fromUUIDs(ids []pgtype.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		out[i] = id.Bytes
	}
	return out
}

// RequestsCount counts the entries that match f.
func (db *DB) RequestsCount(ctx context.Context, f mews.RequestFilter) (int64, error) {
	w := requestWhere(f)
	var n int64
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM requests"+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: journal: %w", err)
	}
	return n, nil
}

// RequestsClear deletes every entry, of every replica.
func (db *DB) RequestsClear(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, "DELETE FROM requests"); err != nil {
		return fmt.Errorf("postgres: journal: %w", err)
	}
	return nil
}

// requestWhere is the WHERE clause of f. The table is bounded (the newest
// N entries), so a filter may read all of it.
func requestWhere(f mews.RequestFilter) *where {
	w := &where{}
	if len(f.Operations) > 0 {
		w.add("operation = ANY (" + w.arg(f.Operations) + ")")
	}
	if len(f.IntegrationIDs) > 0 {
		w.add("integration_id = ANY (" + w.arg(uuids(f.IntegrationIDs)) + ")")
	}
	if f.AccessTokenHash != nil {
		w.add("access_token_hash = " + w.arg(f.AccessTokenHash))
	}
	if len(f.Statuses) > 0 {
		w.add("status = ANY (" + w.arg(f.Statuses) + ")")
	}
	if f.Created != nil {
		w.add("created_utc BETWEEN " + w.arg(f.Created.Start) + " AND " + w.arg(f.Created.End))
	}
	if len(f.IDs) > 0 {
		w.add("request_id = ANY (" + w.arg(uuids(f.IDs)) + ")")
	}
	if len(f.ThreadIDs) > 0 {
		w.add("thread_ids && " + w.arg(uuids(f.ThreadIDs)))
	}
	return w
}
