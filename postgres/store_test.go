package postgres

import (
	"testing"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/mews/storetest"
)

// TestStore runs the conformance suite that the SQLite engine passes too,
// each subtest on a schema of its own.
func TestStore(t *testing.T) {
	pgtest.BaseDSN(t) // one skip, not one per subtest
	storetest.Run(t, func(t *testing.T) mews.Store { return open(t, pgtest.DSN(t)) })
}

// open opens the database at dsn; the caller closes it.
func open(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// openClosed opens the database at dsn and closes it when the test ends.
func openClosed(t *testing.T, dsn string) *DB {
	t.Helper()
	db := open(t, dsn)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// openFresh opens a new empty schema and closes it when the test ends.
func openFresh(t *testing.T) *DB {
	t.Helper()
	return openClosed(t, pgtest.DSN(t))
}

// Behind PgBouncer in transaction mode the README advises
// default_query_exec_mode=exec: pgx then prepares no statements, and must
// know the type of every argument from its Go type alone.
func TestStoreWithoutPreparedStatements(t *testing.T) {
	pgtest.BaseDSN(t)
	storetest.Run(t, func(t *testing.T) mews.Store {
		return open(t, withParam(t, pgtest.DSN(t), "default_query_exec_mode", "exec"))
	})
}
