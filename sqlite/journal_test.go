package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The journal of a data file lives in an unlinked file: nothing of it is
// in the directory while the store is open, and two stores on one file
// keep a journal each.
func TestJournalLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mews.db")
	a, b := open(t, path), open(t, path)
	entry := mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: "messages/add", Status: 200}
	if err := a.RequestsAdd(t.Context(), []mews.Request{entry}, 10); err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]*DB{"a": a, "b": b} {
		want := map[*DB]int64{a: 1, b: 0}[db]
		if n, err := db.RequestsCount(t.Context(), mews.RequestFilter{}); err != nil || n != want {
			t.Errorf("store %s: %d entries, %v; want %d", name, n, err, want)
		}
	}
	files := func() []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			if strings.Contains(e.Name(), "requests") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	if got := files(); len(got) != 0 {
		t.Errorf("journal files in the directory while open: %v", got)
	}
	for _, db := range []*DB{a, b} {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(); len(got) != 0 {
		t.Errorf("journal files in the directory after Close: %v", got)
	}
}
