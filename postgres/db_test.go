package postgres

import (
	"strings"
	"testing"

	"github.com/mewsref/mewsref/internal/pgtest"
)

func TestIsDSN(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db":           true,
		"postgresql://u@h/db?x=y":     true,
		"mewsref.db":                  false,
		":memory:":                    false,
		"postgres.db":                 false,
		"file:postgres://x":           false,
		"host=localhost dbname=mews ": false, // a keyword/value DSN is a SQLite path to the binary
	} {
		if got := IsDSN(dsn); got != want {
			t.Errorf("IsDSN(%q) = %t, want %t", dsn, got, want)
		}
	}
}

// show returns the value of a run-time parameter on a connection of db.
func show(t *testing.T, db *DB, param string) string {
	t.Helper()
	var v string
	if err := db.pool.QueryRow(t.Context(), "SELECT current_setting($1)", param).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A commit must wait for the WAL flush whatever the server's default, unless
// the DSN asks otherwise. The "options" of the DSN stand for a server whose
// default is off: they apply to the session before the run-time parameters.
func TestSynchronousCommitOnUnlessTheDSNSaysOtherwise(t *testing.T) {
	dsn := pgtest.DSN(t)
	if got := show(t, openClosed(t, withParam(t, dsn, "options", "-c synchronous_commit=off")), "synchronous_commit"); got != "on" {
		t.Errorf("synchronous_commit = %q, want on", got)
	}
	if got := show(t, openClosed(t, withParam(t, dsn, "synchronous_commit", "off")), "synchronous_commit"); got != "off" {
		t.Errorf("with synchronous_commit=off in the DSN: %q, want off", got)
	}
}

func withParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	dsn, err := pgtest.WithParam(dsn, key, value)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// The binary logs Open's errors: they must not show the password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://mewsref:s3cret@127.0.0.1:1/none?connect_timeout=5", // nothing listens on port 1
		"postgres://mewsref:s3cret@127.0.0.1:port/none",                // not a URL pgx parses
		"postgres://mewsref:s3cret@127.0.0.1/none?pool_max_conns=many",
	} {
		db, err := Open(t.Context(), dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): error shows the password: %v", dsn, err)
		}
		if !strings.HasPrefix(err.Error(), "postgres: ") {
			t.Errorf("error %q does not start with \"postgres: \"", err)
		}
	}
}
