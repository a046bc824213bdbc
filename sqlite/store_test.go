package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/mews/storetest"
)

func TestStore(t *testing.T) {
	t.Run("Memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) mews.Store { return open(t, Memory) })
	})
	t.Run("File", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) mews.Store {
			return open(t, filepath.Join(t.TempDir(), "mews.db"))
		})
	})
}

// open opens the database at path; the caller closes it.
func open(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	return db
}

// openClosed opens the database at path and closes it when the test ends.
func openClosed(t *testing.T, path string) *DB {
	t.Helper()
	db := open(t, path)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}
