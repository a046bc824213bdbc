// Package pgtest gives each test its own empty PostgreSQL schema, so that
// tests that run at once against one database never see each other's rows.
//
// The database comes from the environment variable MEWSREF_TEST_POSTGRES;
// without it the tests that need PostgreSQL skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that holds the URL of the test
// database, for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvDSN = "MEWSREF_TEST_POSTGRES"

// BaseDSN returns the DSN of the test database, or skips t when EnvDSN is
// not set.
func BaseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skipf("needs PostgreSQL: set %s, e.g. %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'", EnvDSN, EnvDSN)
	}
	return dsn
}

// DSN creates a schema with a random name in the test database and returns
// a DSN whose connections use it (search_path). The schema and everything
// in it are dropped when t ends, after the cleanups registered later (such
// as closing a store opened on it) have run. Without EnvDSN it skips t.
func DSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN(t)
	// Lower case: the server folds unquoted names in search_path.
	schema := "mewsref_test_" + strings.ToLower(rand.Text())
	exec(t, t.Context(), base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(t, ctx, base, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	dsn, err := WithSearchPath(base, schema)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// WithSearchPath returns dsn with its connections' search_path set to
// schema.
func WithSearchPath(dsn, schema string) (string, error) {
	return WithParam(dsn, "search_path", schema)
}

// WithParam returns dsn, a URL or a list of keyword=value settings, with
// the setting key=value. pgx sends the settings it does not know itself,
// such as search_path, to the server as run-time parameters of every
// connection. value must not need quoting in the keyword=value form.
func WithParam(dsn, key, value string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Not err itself: it quotes the URL, password and all.
		return "", errors.New("the DSN is not a valid URL")
	}
	q := u.Query()
	q.Set(key, value)
	// pgx unescapes the query as a path: a space must be %20, not +
	// (Encode writes a literal + as %2B).
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}

// exec runs sql on a connection of its own to dsn.
func exec(t testing.TB, ctx context.Context, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test database (%s): %v", EnvDSN, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
