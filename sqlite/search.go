package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// ThreadsSearch returns a page of the threads of an enterprise that match q,
// latest activity first, each with its newest message. It reads the
// enterprise's threads through threads_enterprise_created
// and sorts them: an inbox, not a hot path (see mews.Admin).
func (db *DB) ThreadsSearch(ctx context.Context, q mews.ThreadSearch) ([]mews.ThreadSummary, error) {
	if err := checkCount(q.Page.Count); err != nil {
		return nil, err
	}
	var w where
	w.add("t.enterprise_id = ?", blob(q.EnterpriseID))
	if q.IntegrationID != nil {
		w.add("t.integration_id = ?", blob(*q.IntegrationID))
	}
	if q.IsResolved != nil {
		w.add("t.is_resolved = ?", *q.IsResolved)
	}
	if q.Text != "" {
		needle := mews.LowerASCII(q.Text)
		w.add("(instr(lower(t.subject), ?) > 0 OR instr(lower(t.original_sender), ?) > 0"+
			" OR EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id AND instr(lower(m.text), ?) > 0))",
			needle, needle, needle)
	}
	if q.Page.Cursor != nil {
		// A position in the order of this page: updated_utc, not created_utc.
		at, found, err := readPosition(ctx, db.engine, "SELECT updated_utc, seq FROM threads WHERE id = ? AND enterprise_id = ?",
			[]any{blob(*q.Page.Cursor), blob(q.EnterpriseID)})
		if err != nil {
			return nil, fmt.Errorf("sqlite: find cursor thread: %w", err)
		}
		if !found {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the Id of a thread of this enterprise.", *q.Page.Cursor)
		}
		updated, seq := at.created, at.seq
		w.add("(t.updated_utc < ? OR (t.updated_utc = ? AND t.seq < ?))", updated, updated, seq)
	}
	ts, err := readThreads(ctx, db.engine, q.Page.Count, part{"SELECT " + prefixed("t.", threadColumns) + " FROM threads t" + w.String() +
		" ORDER BY t.updated_utc DESC, t.seq DESC " + limitParam, w.args})
	if err != nil {
		return nil, fmt.Errorf("sqlite: search threads: %w", err)
	}
	var out []mews.ThreadSummary
	for _, t := range ts {
		out = append(out, mews.ThreadSummary{Thread: t})
	}
	for i := range out {
		if out[i].LastMessage, err = db.lastMessage(ctx, out[i].Thread); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lastMessage returns the newest message of t, nil if it has none: the first
// row of the walk of the primary key of messages that a page does.
func (db *DB) lastMessage(ctx context.Context, t mews.Thread) (*mews.Message, error) {
	ms, err := db.MessagesGetAll(ctx, mews.MessageFilter{
		Scope:     mews.Scope{IntegrationID: t.IntegrationID, EnterpriseIDs: []uuid.UUID{t.EnterpriseID}},
		ThreadIDs: []uuid.UUID{t.ID}, Page: mews.Page{Count: 1},
	})
	if err != nil || len(ms) == 0 {
		return nil, err
	}
	return &ms[0], nil
}

// prefixed puts prefix (a table alias and a dot) before each column of a
// comma-separated list.
func prefixed(prefix, columns string) string {
	return prefix + strings.ReplaceAll(columns, ", ", ", "+prefix)
}
