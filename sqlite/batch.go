package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Writes of many rows run as few statements: one statement costs far more
// to step through than the rows it carries. The statements of a few sizes
// are prepared once at Open, on the write connection (a statement cannot be
// prepared on the pool while the writer holds its only connection), and n
// rows go as chunks of those sizes, largest first: 1000 rows are 10
// statements, 10 rows one.
var chunkSizes = []int{100, 10, 1}

// batchStmts are the prepared statements of one query for each chunk size.
type batchStmts map[int]*sql.Stmt

func prepareBatch(ctx context.Context, pool *sql.DB, query func(n int) string) (batchStmts, error) {
	b := batchStmts{}
	for _, n := range chunkSizes {
		s, err := pool.PrepareContext(ctx, query(n))
		if err != nil {
			b.close()
			return nil, fmt.Errorf("sqlite: prepare %d-row statement: %w", n, err)
		}
		b[n] = s
	}
	return b, nil
}

// each calls fn for consecutive chunks of n items: the statement of the
// chunk's size and the chunk's bounds [lo, hi).
func (b batchStmts) each(n int, fn func(s *sql.Stmt, lo, hi int) error) error {
	lo := 0
	for _, size := range chunkSizes {
		for ; n-lo >= size; lo += size {
			if err := fn(b[size], lo, lo+size); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b batchStmts) close() []error {
	var errs []error
	for _, s := range b {
		errs = append(errs, s.Close())
	}
	return errs
}

// placeholders returns n groups of k question marks: "(?, ?), (?, ?)".
func placeholders(n, k int) string {
	group := "(" + strings.TrimSuffix(strings.Repeat("?, ", k), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(group+", ", n), ", ")
}

// list returns n question marks: "?, ?, ?".
func list(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
