package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// checkPragmas checks the settings of n connections of pool at once, so
// that the pool has to open n of them.
func checkPragmas(t *testing.T, pool *sql.DB, n int, want map[string]string) {
	t.Helper()
	ctx := t.Context()
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for pragma, value := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, pragma, err)
			}
			if !strings.EqualFold(got, value) {
				t.Errorf("connection %d: %s = %s, want %s", i, pragma, got, value)
			}
		}
	}
}

func TestFilePragmasOnEveryConnection(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "mews.db"))
	common := map[string]string{"journal_mode": "wal", "busy_timeout": "5000"}
	writer := map[string]string{"synchronous": "1", "foreign_keys": "1", "query_only": "0", "temp_store": "2"} // 1 is NORMAL (logsync.go); 2 is MEMORY
	reader := map[string]string{"query_only": "1"}
	for k, v := range common {
		writer[k], reader[k] = v, v
	}
	t.Run("Writer", func(t *testing.T) { checkPragmas(t, db.write, 1, writer) })
	t.Run("Readers", func(t *testing.T) { checkPragmas(t, db.read, 4, reader) })
}

func TestMemoryPragmas(t *testing.T) {
	db := openClosed(t, Memory)
	checkPragmas(t, db.write, 1, map[string]string{"foreign_keys": "1"})
}
