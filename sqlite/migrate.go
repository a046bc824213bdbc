package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mewsref/mewsref/internal/migrations"
)

// migrationFiles holds the schema changes (see internal/migrations).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations returns the embedded migrations in the order of their
// versions.
func loadMigrations() ([]migrations.Migration, error) {
	ms, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return ms, nil
}

// migrate applies the migrations that db has not recorded in
// schema_migrations, in one transaction: a database is either at its old
// version or at the newest, never in between. The transaction starts with
// BEGIN IMMEDIATE (the writer's _txlock), so two processes opening the same
// file migrate one after the other.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return applyMigrations(ctx, db, ms)
}

// applyMigrations applies those of ms that db has not recorded, in one
// transaction, and records them.
func applyMigrations(ctx context.Context, db *sql.DB, ms []migrations.Migration) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version     INTEGER PRIMARY KEY,
		name        TEXT    NOT NULL,
		applied_utc INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	if n := len(ms); n > 0 && len(applied) > 0 && applied[len(applied)-1] > ms[n-1].Version {
		return fmt.Errorf("sqlite: migrate: the database has schema version %d, newer than this program's %d",
			applied[len(applied)-1], ms[n-1].Version)
	}
	for _, m := range ms {
		if _, done := slices.BinarySearch(applied, m.Version); done {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_utc) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().Unix()); err != nil {
			return fmt.Errorf("sqlite: migrate: record %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: commit: %w", err)
	}
	return nil
}

// appliedVersions returns the versions recorded in schema_migrations, in
// increasing order.
func appliedVersions(ctx context.Context, tx *sql.Tx) ([]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: migrate: read schema_migrations: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: migrate: read schema_migrations: %w", err)
	}
	return vs, nil
}

// rollback ends tx after a failure; it is not an error if tx is already done.
func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("sqlite: rollback: %w", err)
	}
	return nil
}

// migrateFile brings the database file name (a URI) up to date on a
// connection of its own, closed when it is done. The writer's connection
// keeps its temporary files in memory (temp_store=MEMORY, for its
// sub-journals), and so would keep there the sorts of a migration's index
// builds: 0006 rebuilds the tables of messages and their indexes, which on
// a file of millions of messages is hundreds of MiB of RAM. Here they spill
// to temporary files beyond the page cache the writer has too (32 MiB).
// The connection also puts the file in WAL mode (persistent) before any
// other opens it, and commits with synchronous=FULL.
func migrateFile(ctx context.Context, name string) error {
	conn, err := openPool(ctx, migrationDSN(name), 1)
	if err != nil {
		return err
	}
	return errors.Join(migrate(ctx, conn), conn.Close())
}

// migrationDSN is the data source name of the migrating connection to the
// file name: the writer's, but for temp_store and checkpoints.
func migrationDSN(name string) string {
	return dsn(name, true, busyTimeout, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", "cache_size(-32768)")
}
