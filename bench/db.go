package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/mewsref/mewsref/internal/benchdata"
	"github.com/mewsref/mewsref/sqlite"
)

// openData opens the SQLite file at path and what to measure on it. A new
// file is loaded with nThreads threads and nMessages messages; an existing
// one must be a file that the harness loaded earlier (-db), and is
// measured as it is, with the rows that earlier runs added to it.
func openData(ctx context.Context, path string, nThreads, nMessages int) (*sqlite.DB, *benchdata.Set, error) {
	_, err := os.Stat(path)
	existing := err == nil
	if existing {
		// Refused before sqlite.Open, which would bring another
		// program's SQLite file to this schema.
		if err := checkStoreFile(ctx, path); err != nil {
			return nil, nil, err
		}
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	var data *benchdata.Set
	if existing {
		data, err = benchdata.Read(ctx, store, benchScope)
		if err != nil {
			err = fmt.Errorf("%s is not a file that the harness loaded (-db names a new file, or one it loaded): %w", path, err)
		}
	} else {
		data, err = benchdata.Load(ctx, store, benchScope, nThreads, nMessages)
	}
	if err != nil {
		return nil, nil, errors.Join(err, store.Close())
	}
	if existing {
		fmt.Printf("opened %s, loaded earlier: %d threads (%d of them with %d or more messages), created since %s; read in %s; -threads and -messages are for a new file\n",
			path, data.Count, len(data.Long), benchdata.LongMessages, data.Start.Format(time.RFC3339), time.Since(t0).Round(time.Millisecond))
	} else {
		fmt.Printf("loaded %d threads and %d messages in %s\n", nThreads, nMessages, time.Since(t0).Round(time.Millisecond))
	}
	return store, data, nil
}

// checkStoreFile returns an error unless path is a SQLite file with
// mewsref's schema, reading it without changing it.
func checkStoreFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	head := make([]byte, 16)
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return fmt.Errorf("%s exists and is not a SQLite file; -db names a new file, or one that the harness loaded", path)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var tables int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('schema_migrations', 'threads', 'messages')`).Scan(&tables)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if tables != 3 {
		return fmt.Errorf("%s is a SQLite file of another program (no mewsref tables); -db names a new file, or one that the harness loaded", path)
	}
	return nil
}
