// Package postgres is the storage engine for several server processes that
// share one database: PostgreSQL, through the connection pool of
// github.com/jackc/pgx/v5.
//
// Everything the processes must agree on lives in the database: the rows,
// and the order of pages, (created_utc, seq), where seq comes from one
// sequence of the database rather than from any process. Nothing is cached
// in a process, so a write through one process is seen by the next read
// through any other.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.Store = (*DB)(nil)

// DB is a mews.Store kept in PostgreSQL. It is safe for concurrent use, and
// any number of DBs, in any number of processes, may share one database.
type DB struct {
	pool    *pgxpool.Pool
	changes struct {
		sync.Mutex
		channel string // of the change feed (changes.go), once known
	}
}

// IsDSN reports whether dsn names a PostgreSQL database: a URL with the
// scheme postgres or postgresql, the forms that pgx parses as URLs.
func IsDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database that dsn names and brings the schema of its
// search_path up to date. dsn is anything pgxpool.ParseConfig accepts,
// including the pool settings (pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time, ...) and run-time
// parameters such as search_path.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := parseConfig(dsn)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// The pool connects lazily; a bad address or password is reported as
	// such, before the migrations.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("postgres: connect to %s:%d: no answer within %s (connect_timeout): %w",
				cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.ConnectTimeout, err)
		}
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// DefaultConnectTimeout bounds the connection to the server (TCP, TLS and
// start-up) unless the DSN sets connect_timeout or the environment
// PGCONNECT_TIMEOUT: without it, a server that accepts the connection but
// never answers would hang the start silently.
const DefaultConnectTimeout = 10 * time.Second

// parseConfig is pgxpool.ParseConfig with the engine's defaults.
func parseConfig(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if u, err := url.Parse(dsn); err == nil && !u.Query().Has("connect_timeout") && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	params := cfg.ConnConfig.RuntimeParams
	// A write that returned must survive a crash of the database server:
	// the commit waits for the WAL flush. That is PostgreSQL's default, but
	// CI databases are often tuned with synchronous_commit=off, so the
	// engine asks for it unless the DSN says otherwise.
	setDefault(params, "synchronous_commit", "on")
	// Names the connections of the server processes in pg_stat_activity.
	setDefault(params, "application_name", "mewsref")
	return cfg, nil
}

func setDefault(params map[string]string, key, value string) {
	if _, ok := params[key]; !ok {
		params[key] = value
	}
}

// Ping reports whether the database answers (for readiness checks).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for the connections in use to be released.
// Closing twice is harmless.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}
