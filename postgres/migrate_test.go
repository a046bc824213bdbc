package postgres

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/mews"
)

type appliedMigration struct {
	version int
	name    string
}

// appliedMigrations returns the rows of schema_migrations.
func appliedMigrations(t *testing.T, db *DB) []appliedMigration {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ms []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.version, &m.name); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ms
}

// wantAllApplied checks that db recorded each embedded migration once.
func wantAllApplied(t *testing.T, db *DB) {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	got := appliedMigrations(t, db)
	if len(got) != len(ms) {
		t.Fatalf("recorded %d migrations, want %d: %v", len(got), len(ms), got)
	}
	for i, m := range ms {
		if got[i] != (appliedMigration{m.Version, m.Name}) {
			t.Errorf("recorded %v, want %d %s", got[i], m.Version, m.Name)
		}
	}
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
	wantAllApplied(t, openFresh(t))
}

// Processes of a fleet start at once on a fresh database: every Open must
// succeed, and the migrations run once. The migrations create their tables
// without IF NOT EXISTS, so a second run would fail an Open.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 8
	dbs := make([]*DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	wantAllApplied(t, dbs[0])
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	dsn := pgtest.DSN(t)
	th := mews.Thread{
		ID: uuid.New(), IntegrationID: uuid.New(), EnterpriseID: uuid.New(),
		OriginalSender: "Guest", Subject: "Stay",
		CreatedUTC: time.Unix(1e9, 0).UTC(), UpdatedUTC: time.Unix(1e9, 0).UTC(),
	}
	db := open(t, dsn)
	if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	before := appliedMigrations(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openClosed(t, dsn)
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
	dsn := pgtest.DSN(t)
	db := open(t, dsn)
	if _, err := db.pool.Exec(t.Context(),
		`INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a database of a newer schema")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

// A search_path that names no existing schema would leave the tables
// nowhere; Open says so instead of failing on the first CREATE TABLE.
func TestOpenWithoutSchemaFails(t *testing.T) {
	dsn, err := pgtest.WithSearchPath(pgtest.BaseDSN(t), "mewsref_test_does_not_exist")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), dsn)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded without a schema")
	}
	if !strings.Contains(err.Error(), "search_path") {
		t.Errorf("error %q does not point to search_path", err)
	}
}
