package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.ChangeFeed = (*DB)(nil)

// The change feed is LISTEN/NOTIFY on a channel named after the schema, so
// that servers on other schemas of the database do not hear it. The
// notification is sent after the write committed, by the caller, outside
// any transaction of the API: a NOTIFY inside messages/add would serialize
// its commits on the notification queue's lock.

// channel returns the name of the change channel: "mewsref." and the schema
// the tables are in (the first of the search_path).
func (db *DB) channel(ctx context.Context) (string, error) {
	db.changes.Lock()
	defer db.changes.Unlock()
	if db.changes.channel == "" {
		var schema string
		if err := db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return "", fmt.Errorf("postgres: change channel: %w", err)
		}
		db.changes.channel = "mewsref." + schema
	}
	return db.changes.channel, nil
}

// NotifyChanged sends one notification on the change channel.
func (db *DB) NotifyChanged(ctx context.Context) error {
	ch, err := db.channel(ctx)
	if err != nil {
		return err
	}
	if _, err := db.pool.Exec(ctx, "SELECT pg_notify($1, '')", ch); err != nil {
		return fmt.Errorf("postgres: notify change: %w", err)
	}
	return nil
}

// ListenChanges listens on a connection of its own, outside the pool, so
// that a console left open does not hold one of the API's connections.
func (db *DB) ListenChanges(ctx context.Context, changed func()) error {
	ch, err := db.channel(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("postgres: listen for changes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: listen for changes: %w", err)
	}
	changed()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("postgres: listen for changes: %w", err)
		}
		changed()
	}
}
