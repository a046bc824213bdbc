package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// migrateLockClass is the first key of the advisory lock that migrations
// hold ("mews" in ASCII); the second is a hash of the schema's name, so that
// schemas of one database migrate independently. Advisory locks are per
// database, and a hash collision only makes two schemas take turns.
const migrateLockClass int32 = 0x6d657773

// migrateLockKey returns the second key of the migration lock of schema.
func migrateLockKey(schema string) int32 {
	h := fnv.New32a()
	h.Write([]byte(schema))
	return int32(h.Sum32())
}

// migrate applies, in one transaction, the migrations that the schema of
// the search_path has not recorded in schema_migrations: a schema is either
// at its old version or at the newest, never in between.
//
// Several processes may start at once on one database, so the transaction
// first takes a transaction-level advisory lock on the schema: the others
// wait for it, and once the first has committed (the lock is released after
// the commit is visible) they find the versions recorded and apply nothing.
// Without the lock two of them could both see an empty schema_migrations and
// run the same CREATE TABLE, and one would fail.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var schema *string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("find schema: %w", err)
		}
		if schema == nil {
			return errors.New("no schema of the search_path exists; create it, or set search_path in the DSN")
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`,
			migrateLockClass, migrateLockKey(*schema)); err != nil {
			return fmt.Errorf("lock schema %s: %w", *schema, err)
		}
		return applyMigrations(ctx, tx, ms)
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// applyMigrations applies those of ms that tx has not recorded, and records
// them.
func applyMigrations(ctx context.Context, tx pgx.Tx, ms []migrations.Migration) error {
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version     integer     PRIMARY KEY,
		name        text        NOT NULL,
		applied_utc timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	if n := len(ms); n > 0 && len(applied) > 0 && applied[len(applied)-1] > ms[n-1].Version {
		return fmt.Errorf("the database has schema version %d, newer than this program's %d",
			applied[len(applied)-1], ms[n-1].Version)
	}
	for _, m := range ms {
		if _, done := slices.BinarySearch(applied, m.Version); done {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("record %s: %w", m.Name, err)
		}
	}
	return nil
}
