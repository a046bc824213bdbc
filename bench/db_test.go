package main

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/benchdata"
	"github.com/mewsref/mewsref/sqlite"
)

// readFile returns what the harness's file at path holds, as a second run
// reads it.
func readFile(t *testing.T, path string) *benchdata.Set {
	t.Helper()
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	set, err := benchdata.Read(t.Context(), store, benchScope)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// A run on a file that an earlier run loaded (and added to) measures on it
// as it is, without loading it again.
func TestRunOnALoadedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.db")
	if err := run(2, 100*time.Millisecond, 2000, 10_000, path, "", "", 0, 0); err != nil {
		t.Fatal(err)
	}
	first := readFile(t, path)
	if first.Count < 2000 || len(first.Long) != benchdata.LongThreads {
		t.Fatalf("after the first run the file holds %d threads, %d long ones; want 2,000 loaded and the adds, %d long", first.Count, len(first.Long), benchdata.LongThreads)
	}
	// Only the pages: a load would add 2,000 threads, the pages none (the
	// capture of the baseline's answers adds one).
	if err := run(2, 100*time.Millisecond, 2000, 10_000, path, "messageThreads/getAll,messages/getAll", "", 0, 0); err != nil {
		t.Fatalf("a second run on the file: %v", err)
	}
	second := readFile(t, path)
	if second.Count != first.Count+1 {
		t.Errorf("the second run left %d threads in the file, the first %d: want one more, the capture's", second.Count, first.Count)
	}
	for i, l := range second.Long {
		if l.Thread != first.Long[i].Thread || !slices.Equal(l.Cursors, first.Long[i].Cursors) {
			t.Errorf("long thread %d is %s with %d cursors, was %s with %d", i, l.Thread, len(l.Cursors), first.Long[i].Thread, len(first.Long[i].Cursors))
		}
	}
}

// What Read finds in a file that Load just made is what Load said it made.
func TestReadFindsWhatLoadMade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := benchdata.Load(t.Context(), store, benchScope, 2000, 10_000)
	if err = errors.Join(err, store.Close()); err != nil {
		t.Fatal(err)
	}
	read := readFile(t, path)
	if read.Count != loaded.Count || !read.Start.Equal(loaded.Start) || len(read.Threads) != loaded.Count {
		t.Errorf("read %d threads (%d sampled) since %s, want %d since %s", read.Count, len(read.Threads), read.Start, loaded.Count, loaded.Start)
	}
	if len(read.Long) != len(loaded.Long) {
		t.Fatalf("read %d long threads, want %d", len(read.Long), len(loaded.Long))
	}
	for i, l := range read.Long {
		if l.Thread != loaded.Long[i].Thread || !slices.Equal(l.Cursors, loaded.Long[i].Cursors) {
			t.Errorf("long thread %d: read %s with %d cursors, loaded %s with %d", i, l.Thread, len(l.Cursors), loaded.Long[i].Thread, len(loaded.Long[i].Cursors))
		}
	}
}

// A file that the harness did not load is refused, and left as it was.
func TestRunRefusesAnotherFile(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another program's SQLite file.
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err == nil {
		_, err = db.Exec(`CREATE TABLE notes (text TEXT)`)
		err = errors.Join(err, db.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	// A mewsref file without the harness's data (a server's, say).
	empty := filepath.Join(dir, "server.db")
	store, err := sqlite.Open(t.Context(), empty)
	if err == nil {
		err = store.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{text, "not a SQLite file"},
		{other, "another program"},
		{empty, "not a file that the harness loaded"},
	} {
		before, _ := os.ReadFile(c.path)
		err := run(2, 100*time.Millisecond, 2000, 10_000, c.path, "", "", 0, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-db %s: %v, want an error saying %q", filepath.Base(c.path), err, c.want)
		}
		if c.path != empty {
			if after, _ := os.ReadFile(c.path); !bytes.Equal(before, after) {
				t.Errorf("-db %s: the refused file changed", filepath.Base(c.path))
			}
		}
	}
}
