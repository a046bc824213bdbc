package sqlite

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/migrations"
	"github.com/mewsref/mewsref/mews"
)

type appliedMigration struct {
	version int
	name    string
	applied int64
}

// appliedMigrations returns the rows of schema_migrations.
func appliedMigrations(t *testing.T, db *DB) []appliedMigration {
	t.Helper()
	rows, err := db.read.QueryContext(t.Context(), `SELECT version, name, applied_utc FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ms []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.version, &m.name, &m.applied); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestMigrationsInVersionOrder(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("%s after %s", m.Name, ms[i-1].Name)
		}
		if strings.TrimSpace(m.SQL) == "" {
			t.Errorf("%s is empty", m.Name)
		}
	}
}

func TestOpenRecordsMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	db := openClosed(t, Memory)
	got := appliedMigrations(t, db)
	if len(got) != len(ms) {
		t.Fatalf("recorded %d migrations, want %d", len(got), len(ms))
	}
	for i, m := range ms {
		if got[i].version != m.Version || got[i].name != m.Name {
			t.Errorf("recorded %d %s, want %d %s", got[i].version, got[i].name, m.Version, m.Name)
		}
	}
}

// The migrations create their tables without IF NOT EXISTS, so applying one
// again would fail Open; the rows of schema_migrations show it was not tried.
func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mews.db")
	th := mews.Thread{
		ID: uuid.New(), IntegrationID: uuid.New(), EnterpriseID: uuid.New(),
		OriginalSender: "Guest", Subject: "Stay",
		CreatedUTC: time.Unix(1e9, 0).UTC(), UpdatedUTC: time.Unix(1e9, 0).UTC(),
	}
	db := open(t, path)
	if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	before := appliedMigrations(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openClosed(t, path)
	if after := appliedMigrations(t, db); !slices.Equal(after, before) {
		t.Errorf("schema_migrations after reopening: %v, want %v", after, before)
	}
	got, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{
		Scope: mews.Scope{IntegrationID: th.IntegrationID, EnterpriseIDs: []uuid.UUID{th.EnterpriseID}},
		IDs:   []uuid.UUID{th.ID},
		Page:  mews.Page{Count: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != th {
		t.Errorf("after reopening got %+v, want [%+v]", got, th)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mews.db")
	db := open(t, path)
	if _, err := db.write.ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_utc) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), path)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a database of a newer schema")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

// A path is a path, not a URI: characters that mean something in a URI stay
// part of the file name.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir %20")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mews?mode=ro#x.db")
	openClosed(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %q: %v", path, err)
	}
}

// Migrations of a file run on a connection whose temporary files (the
// sorts of index builds) are files, as SQLite's default has them, not
// memory like the writer's: a migration reads temp_store where it runs.
func TestFileMigrationsDoNotKeepTemporaryFilesInMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mews.db")
	name := "file:" + path
	conn, err := openPool(t.Context(), migrationDSN(name), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ms := []migrations.Migration{{Version: 1, Name: "0001_seen.sql",
		SQL: `CREATE TABLE seen AS SELECT temp_store FROM pragma_temp_store`}}
	if err := applyMigrations(t.Context(), conn, ms); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := conn.QueryRowContext(t.Context(), `SELECT temp_store FROM seen`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != 0 { // 0: the default, 2: MEMORY
		t.Errorf("temp_store %d inside the migration, want 0 (default)", got)
	}
	// And Open migrates on it: the writer's connection has MEMORY.
	db := openClosed(t, filepath.Join(t.TempDir(), "other.db"))
	if err := db.write.QueryRowContext(t.Context(), `PRAGMA temp_store`).Scan(&got); err != nil || got != 2 {
		t.Errorf("the writer's temp_store %d (%v), want 2 (MEMORY)", got, err)
	}
}
