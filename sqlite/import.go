package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/mewsref/mewsref/mews"
)

// Import stores threads and then messages as they are, in one transaction,
// for seeding a database with fixtures or benchmark data quickly. Unlike
// MessagesAdd it checks no scope and leaves the threads' UpdatedUTC as
// given: the caller provides consistent data.
func (db *DB) Import(ctx context.Context, threads []mews.Thread, msgs []mews.Message) (err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	insThread := tx.StmtContext(ctx, db.insertThread)
	for _, t := range threads {
		if _, err := insThread.ExecContext(ctx,
			blob(t.ID), blob(t.IntegrationID), blob(t.EnterpriseID), t.OriginalSender, t.Subject,
			micros(t.CreatedUTC), micros(t.UpdatedUTC), t.IsResolved); err != nil {
			return fmt.Errorf("sqlite: import thread %s: %w", t.ID, err)
		}
	}
	insMessage := tx.StmtContext(ctx, db.insertMessage)
	for _, m := range msgs {
		if _, err := insMessage.ExecContext(ctx,
			blob(m.ID), blob(m.ThreadID), m.Text, string(m.Sender), micros(m.CreatedUTC)); err != nil {
			return fmt.Errorf("sqlite: import message %s: %w", m.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: import: commit: %w", err)
	}
	return nil
}
