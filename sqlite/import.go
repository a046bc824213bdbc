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
	if err := db.syncer.failed(); err != nil {
		return err
	}
	if db.writer.turns != nil {
		db.writer.turns.Lock()
		defer db.writer.turns.Unlock()
	}
	// The transaction is not bound to ctx: database/sql would roll back
	// one whose context ends on a goroutine of its own, without waiting
	// for the threads' insert through the write connection's handle
	// (rawwrite.go), whose next rows would then be committed each on its
	// own. The inserts check ctx, and a failed Import rolls back.
	tx, err := db.write.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	// Its own sequences, reserving exactly the values it takes.
	t := &txn{Tx: tx, seq: newSequences(db.seqStmts, 0)}
	if err := db.addThreads(ctx, t, threads...); err != nil {
		return err
	}
	if len(msgs) > 0 {
		if err := db.addMessages(ctx, t, msgs); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: import: commit: %w", err)
	}
	// Its commit, outside the writer, is not synced by the syncer's round
	// (logsync.go): it returns once durable, as a write through do does.
	if db.syncer != nil {
		return db.syncer.sync()
	}
	return nil
}
