package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/mewsref/mewsref/mews"
)

// ThreadsSearch returns a page of the threads of an enterprise that match q,
// latest activity first, each with its newest message (one lateral walk of
// messages_thread_created per thread). It has no index of its own: an
// inbox, not a hot path (see mews.Admin).
func (db *DB) ThreadsSearch(ctx context.Context, q mews.ThreadSearch) ([]mews.ThreadSummary, error) {
	if err := checkCount(q.Page.Count); err != nil {
		return nil, err
	}
	var w where
	w.add("t.enterprise_id = " + w.arg(q.EnterpriseID))
	if q.IntegrationID != nil {
		w.add("t.integration_id = " + w.arg(*q.IntegrationID))
	}
	if q.IsResolved != nil {
		w.add("t.is_resolved = " + w.arg(*q.IsResolved))
	}
	if q.Text != "" {
		// Texts are bytea (they may hold any string); their escape
		// encoding is ASCII, so lower() folds exactly the ASCII letters,
		// as SQLite's does, and the needle is encoded the same way.
		n := w.arg(escapeBytea(mews.LowerASCII(q.Text)))
		w.add("(strpos(lower(encode(t.subject, 'escape')), " + n + ") > 0" +
			" OR strpos(lower(encode(t.original_sender, 'escape')), " + n + ") > 0" +
			" OR EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id AND strpos(lower(encode(m.text, 'escape')), " + n + ") > 0))")
	}
	if q.Page.Cursor != nil {
		var updated time.Time
		var seq int64
		err := db.pool.QueryRow(ctx, "SELECT updated_utc, seq FROM threads WHERE id = $1 AND enterprise_id = $2",
			*q.Page.Cursor, q.EnterpriseID).Scan(&updated, &seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the Id of a thread of this enterprise.", *q.Page.Cursor)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: find cursor thread: %w", err)
		}
		w.add("(t.updated_utc, t.seq) < (" + w.arg(updated) + ", " + w.arg(seq) + ")")
	}
	query := "SELECT " + prefixed("t.", threadColumns) + ", " + prefixed("lm.", messageColumns) +
		" FROM threads t LEFT JOIN LATERAL (SELECT " + messageColumns + " FROM messages WHERE thread_id = t.id" +
		" ORDER BY created_utc DESC, seq DESC LIMIT 1) lm ON true" + w.String() +
		" ORDER BY t.updated_utc DESC, t.seq DESC LIMIT " + w.arg(q.Page.Count)
	rows, err := db.pool.Query(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: search threads: %w", err)
	}
	out, err := pgx.AppendRows([]mews.ThreadSummary(nil), rows, scanSummary)
	if err != nil {
		return nil, fmt.Errorf("postgres: search threads: %w", err)
	}
	return out, nil
}

func scanSummary(row pgx.CollectableRow) (mews.ThreadSummary, error) {
	var s mews.ThreadSummary
	var sender, subject, text []byte
	var id, thread *uuid.UUID
	var from *string
	var created *time.Time
	t := &s.Thread
	err := row.Scan(&t.ID, &t.IntegrationID, &t.EnterpriseID, &sender, &subject,
		&t.CreatedUTC, &t.UpdatedUTC, &t.IsResolved, &id, &thread, &text, &from, &created)
	t.OriginalSender, t.Subject = string(sender), string(subject)
	t.CreatedUTC, t.UpdatedUTC = utc(t.CreatedUTC), utc(t.UpdatedUTC)
	if err == nil && id != nil {
		s.LastMessage = &mews.Message{ID: *id, ThreadID: *thread, Text: string(text), Sender: mews.Sender(*from), CreatedUTC: utc(*created)}
	}
	return s, err
}

// escapeBytea is encode(b, 'escape') of PostgreSQL: zero bytes and bytes
// with the high bit set as \ooo, backslashes doubled.
func escapeBytea(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == 0 || c >= 0x80:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// prefixed puts prefix (a table alias and a dot) before each column of a
// comma-separated list.
func prefixed(prefix, columns string) string {
	return prefix + strings.ReplaceAll(columns, ", ", ", "+prefix)
}
