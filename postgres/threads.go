package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mewsref/mewsref/mews"
)

// threadColumns is the select list of a thread, in the order scanThread
// reads it.
const threadColumns = "id, integration_id, enterprise_id, original_sender, subject, created_utc, updated_utc, is_resolved"

const insertThreadSQL = `INSERT INTO threads
	(id, integration_id, enterprise_id, original_sender, subject, created_utc, updated_utc, is_resolved)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// MessageThreadsAdd stores t. It is one statement, committed on its own; the
// commit returns once it is in the flushed WAL (synchronous_commit=on).
func (db *DB) MessageThreadsAdd(ctx context.Context, t mews.Thread) error {
	if _, err := db.pool.Exec(ctx, insertThreadSQL,
		t.ID, t.IntegrationID, t.EnterpriseID, []byte(t.OriginalSender), []byte(t.Subject),
		instant(t.CreatedUTC), instant(t.UpdatedUTC), t.IsResolved,
	); err != nil {
		return fmt.Errorf("postgres: add thread %s: %w", t.ID, err)
	}
	return nil
}

// MessageThreadsGetAll returns a page of the threads that match f.
//
// It reads without a transaction: the cursor's position never changes once
// stored, so the page holds the items below it whichever snapshot the page
// query sees.
func (db *DB) MessageThreadsGetAll(ctx context.Context, f mews.ThreadFilter) ([]mews.Thread, error) {
	if err := checkCount(f.Page.Count); err != nil {
		return nil, err
	}
	var after *position
	if f.Page.Cursor != nil {
		p, err := threadPosition(ctx, db.pool, f.Scope, *f.Page.Cursor)
		if err != nil {
			return nil, err
		}
		after = &p
	}
	q, args := threadsPageQuery(f, after)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: get threads: %w", err)
	}
	ts, err := pgx.AppendRows([]mews.Thread(nil), rows, scanThread)
	if err != nil {
		return nil, fmt.Errorf("postgres: get threads: %w", err)
	}
	return ts, nil
}

func scanThread(row pgx.CollectableRow) (mews.Thread, error) {
	var t mews.Thread
	var sender, subject []byte
	err := row.Scan(&t.ID, &t.IntegrationID, &t.EnterpriseID, &sender, &subject,
		&t.CreatedUTC, &t.UpdatedUTC, &t.IsResolved)
	t.OriginalSender, t.Subject = string(sender), string(subject)
	t.CreatedUTC, t.UpdatedUTC = utc(t.CreatedUTC), utc(t.UpdatedUTC)
	return t, err
}

// threadsPageQuery returns the query of a page of threads, after the
// position of the cursor if any: a walk of threads_scope_created per
// enterprise (see pageQuery), or, with IDs, lookups of the primary key.
func threadsPageQuery(f mews.ThreadFilter, after *position) (string, []any) {
	var w where
	if f.IDs != nil {
		w.add("id = ANY (" + w.arg(uuids(f.IDs)) + ")")
		w.scope("", f.Scope)
	} else {
		w.add("integration_id = " + w.arg(f.Scope.IntegrationID))
	}
	if f.Created != nil {
		w.between("created_utc", *f.Created)
	}
	if f.Updated != nil {
		w.between("updated_utc", *f.Updated)
		// Implied, since a thread is updated no earlier than it is created
		// (a CHECK of the schema), and it bounds the index range.
		_, hi := f.Updated.UnixMicros()
		w.add("created_utc <= " + w.arg(time.UnixMicro(hi).UTC()))
	}
	w.olderThan(after)
	if f.IDs != nil {
		// No walk per enterprise: at most 1000 lookups of the primary key,
		// and a sort of what they find, beat walking the whole scope to
		// pick them out, and the planner chooses them (see plan_test.go).
		return "SELECT " + threadColumns + " FROM threads" + w.String() + newestFirst +
			" LIMIT " + w.arg(f.Page.Count), w.args
	}
	return pageQuery(&w, threadColumns, "threads", "enterprise_id", distinct(f.Scope.EnterpriseIDs), f.Page.Count), w.args
}

// threadPositionQuery returns the query of the position of thread id, if it
// is in scope s.
func threadPositionQuery(s mews.Scope, id uuid.UUID) (string, []any) {
	var w where
	w.add("id = " + w.arg(id))
	w.scope("", s)
	return "SELECT created_utc, seq FROM threads" + w.String(), w.args
}

// threadPosition returns the position of the cursor id, or EINVALID if it is
// not a thread in scope s.
func threadPosition(ctx context.Context, q querier, s mews.Scope, id uuid.UUID) (position, error) {
	query, args := threadPositionQuery(s, id)
	var p position
	err := q.QueryRow(ctx, query, args...).Scan(&p.created, &p.seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, mews.Errorf(mews.EINVALID,
			"Invalid Limitation.Cursor: %s is not the Id of a message thread of this client.", id)
	}
	if err != nil {
		return p, fmt.Errorf("postgres: find cursor thread %s: %w", id, err)
	}
	return p, nil
}

// threadsInScopeQuery returns the query of those of ids that are threads in
// scope s; lock adds FOR UPDATE, in the order of the ids, so that two
// transactions that lock some of the same threads cannot deadlock.
func threadsInScopeQuery(s mews.Scope, ids []uuid.UUID, lock bool) (string, []any) {
	var w where
	w.add("id = ANY (" + w.arg(uuids(ids)) + ")")
	w.scope("", s)
	q := "SELECT id, enterprise_id FROM threads" + w.String()
	if lock {
		q += " ORDER BY id FOR UPDATE"
	}
	return q, w.args
}

// threadsInScope returns those of ids that are threads in scope s, each
// with its enterprise, locked for update if lock is set (q must then be a
// transaction).
func threadsInScope(ctx context.Context, q querier, s mews.Scope, ids []uuid.UUID, lock bool) (map[uuid.UUID]uuid.UUID, error) {
	query, args := threadsInScopeQuery(s, ids, lock)
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: find threads in scope: %w", err)
	}
	in := make(map[uuid.UUID]uuid.UUID)
	var id, enterprise uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&id, &enterprise}, func() error {
		in[id] = enterprise
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: find threads in scope: %w", err)
	}
	return in, nil
}
