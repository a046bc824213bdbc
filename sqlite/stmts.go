package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxStmts bounds the statement cache. Page queries come in a few shapes
// (which filters, how many ids); the texts beyond the bound, such as long
// lists of ids of every length, are prepared each time as before.
const maxStmts = 256

// stmts runs the queries of a pool, and prepares each query text once: for a
// page, parsing and planning the SQL costs more than a good part of running
// it.
type stmts struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

func newStmts(pool *sql.DB) *stmts { return &stmts{pool: pool, m: make(map[string]*sql.Stmt)} }

// stmt returns the prepared statement of q, or nil when the cache is full.
func (c *stmts) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s, nil
	}
	if len(c.m) >= maxStmts {
		return nil, nil
	}
	s, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = s
	return s, nil
}

func (c *stmts) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.pool.QueryContext(ctx, q, args...)
	}
	return s.QueryContext(ctx, args...)
}

func (c *stmts) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := c.stmt(ctx, q)
	if err != nil || s == nil {
		// A failed prepare fails again here, and the Row carries the error.
		return c.pool.QueryRowContext(ctx, q, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, s := range c.m {
		errs = append(errs, s.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
