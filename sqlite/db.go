// Package sqlite is the embedded default storage engine: one SQLite file, or
// an in-memory database, through the pure-Go driver modernc.org/sqlite, so
// that the reference server runs with no database server and no cgo.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mewsref/mewsref/mews"

	msqlite "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ mews.Store = (*DB)(nil)

// Memory is the path that Open takes for a database that lives in memory and
// disappears at Close.
const Memory = ":memory:"

// DB is a mews.Store kept in SQLite.
//
// Writes go through a pool of exactly one connection, so writers of this
// process queue in database/sql instead of failing with SQLITE_BUSY; each
// write transaction starts with BEGIN IMMEDIATE, so a writer of another
// process makes it wait (busy_timeout) instead of failing at commit. Reads go
// through their own pool: in WAL mode readers never block the writer, nor
// the writer them.
type DB struct {
	closeOnce sync.Once
	closeErr  error

	read   *sql.DB // the same pool as write for an in-memory database
	reads  *stmts  // read, with its statements prepared once
	engine *engine // the page reads, through SQLite's own API (engine.go)
	write  *sql.DB // one connection: the single writer

	insertThread     *sql.Stmt  // on write
	insertDeliveries *sql.Stmt  // on write: the webhook outbox
	insertMessages   batchStmts // on write
	touchThreads     batchStmts // on write
	seqStmts         seqStmts   // on write: the sequences of seq (sequences.go)

	writeStmts *writeStmts      // on write's handle, without database/sql (rawwrite.go)
	writeConns *handleConnector // opens write's connections, keeps the handle of the last

	journal journal // the request journal's own database (journal.go)

	writer       *writer       // runs every write on the write connection, in groups
	syncer       *logSyncer    // syncs the log and then answers the writes; nil in memory
	checkpointer *checkpointer // copies the log into the database file; nil in memory
	logBehind    atomic.Bool   // the checkpointer left frames for the writer (checkpoint.go)

	controls controls // fault rules and clock (controls.go)
}

// Open opens the database at path, a file name or Memory, creating it if
// need be, and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	db := &DB{}
	if err := db.open(ctx, path); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, path string) error {
	var err error
	if path == Memory {
		err = db.openMemory(ctx)
	} else {
		err = db.openFile(ctx, path)
	}
	if err != nil {
		return err
	}
	if err := db.prepare(ctx); err != nil {
		return err
	}
	if err := db.openJournal(ctx, path); err != nil {
		return err
	}
	db.writer = newWriter(db.write, db.seqStmts, db.engine.turns, &db.logBehind, db.syncer, db.checkpointer)
	db.reads = newStmts(db.read)
	return db.loadControls(ctx)
}

// openMemory opens an in-memory database: a database of SQLite's memdb VFS,
// under a name of its own, which every connection of this process that
// opens the name shares and which disappears with the last of them. The
// engine's readers open it like a file (one code path for both); the
// writer's connection also answers the other reads. memdb has no WAL: its
// readers and its writer's transactions take turns, under a lock in Go. Its bound of 1 GiB is lifted to 1 TiB, as good as none.
func (db *DB) openMemory(ctx context.Context) error {
	name := "file:/mewsref-" + rand.Text() + "?vfs=memdb"
	var err error
	if db.write, db.writeConns, err = openWritePool(ctx, dsn(name, true, busyTimeout, "foreign_keys(1)")); err != nil {
		return err
	}
	db.read = db.write
	if err := migrate(ctx, db.write); err != nil {
		return err
	}
	if db.engine, err = openEngine(name, readers()); err != nil {
		return err
	}
	// memdb refuses a reader while a write transaction is open, and
	// SQLite's busy handler retries by sleeping (up to 100 ms a time), so
	// under a stream of group commits its readers would rarely get in:
	// pages of seconds. A lock in Go makes them take turns fairly instead.
	db.engine.turns = new(sync.RWMutex)
	return db.engine.memdbSizeLimit(ctx, 1<<40)
}

// readers is the number of reader connections of a pool. Reads are short,
// so a few connections per CPU are enough.
func readers() int { return max(4, runtime.GOMAXPROCS(0)) }

// openFile opens the database file at path in WAL mode.
func (db *DB) openFile(ctx context.Context, path string) error {
	// "file:" makes SQLite read the name as a URI, so the path is escaped:
	// a '?' or '#' in it stays part of the name.
	name := "file:" + (&url.URL{Path: path}).EscapedPath()
	// journal_mode is persistent, so the writer sets it for everyone.
	// synchronous=NORMAL in WAL mode does not sync the log at commit (it
	// still syncs checkpoints: the log before it is copied, the database
	// file after): the syncer does, beside the writer, before any write
	// of the commit is answered, so a write that returned survives a crash
	// of the process or the machine (logsync.go). Migrations commit with
	// synchronous=FULL (migrateFile).
	// The writer does not checkpoint (the checkpointer does, beside it),
	// and its page cache holds the working set of a busy batch (32 MiB).
	// temp_store=MEMORY keeps its sub-journals in memory: every write runs
	// in a savepoint, which copies each page it first changes to the
	// sub-journal, a temporary file by default (a pwrite per page). The
	// sub-journal only serves ROLLBACK TO; durability is the log's.
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("sqlite: the directory %s of the database file %s does not exist", dir, path)
	}
	// Migrations run first, on a connection of their own (migrateFile).
	err := migrateFile(ctx, name)
	if err == nil {
		db.write, db.writeConns, err = openWritePool(ctx, dsn(name, true,
			busyTimeout, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)",
			"wal_autocheckpoint(0)", "cache_size(-32768)", "temp_store(MEMORY)"))
	}
	if err != nil {
		if !dirWritable(dir) {
			// SQLite's own message is "unable to open database file (14)".
			return fmt.Errorf("sqlite: cannot open the database file %s: its directory %s is not writable (SQLite creates %s-wal and -shm beside it)", path, dir, filepath.Base(path))
		}
		return err
	}
	// A read-only file opens, and answers reads, but would fail every write
	// with a 500: find out now. An UPDATE that matches no row still takes
	// the write lock, so it fails on a read-only file and changes nothing.
	if _, err := db.write.ExecContext(ctx, `UPDATE schema_migrations SET version = version WHERE 0`); err != nil {
		return fmt.Errorf("sqlite: the database file %s is not writable: %w", path, err)
	}
	// The writer's connection has opened the log (creating it if need
	// be), and holds it until the checkpointer's connection, opened below
	// before the writer's is used again, does (newCheckpointer): the
	// syncer's descriptor names the same file from now on. SQLite names it
	// from the full path of the database file, symbolic links resolved.
	var file string
	if err := db.write.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return fmt.Errorf("sqlite: the path of the database file %s: %w", path, err)
	}
	if db.syncer, err = openLogSyncer(file + "-wal"); err != nil {
		return err
	}
	// The readers connect once the file is in WAL mode and up to date.
	// query_only turns a write by mistake into an error.
	db.read, err = openPool(ctx, dsn(name, false, busyTimeout, "query_only(1)"), readers())
	if err != nil {
		return err
	}
	if db.engine, err = openEngine(name, readers()); err != nil {
		return err
	}
	// A checkpoint syncs with the flags of the connection that runs it:
	// never OFF, or the log could start again over frames that are not
	// yet durable in the database file (logsync.go).
	cp, err := openPool(ctx, dsn(name, false, busyTimeout, "synchronous(FULL)"), 1)
	if err != nil {
		return err
	}
	if db.checkpointer, err = newCheckpointer(ctx, cp, file, &db.logBehind, db.syncer); err != nil {
		return errors.Join(err, cp.Close())
	}
	return nil
}

// dirWritable reports whether a file can be created in dir.
func dirWritable(dir string) bool {
	f, err := os.CreateTemp(dir, ".mewsref-probe-*")
	if err != nil {
		return false
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name)) == nil
}

// busyTimeout is how long a connection waits for a lock that another
// process holds (a writer, a checkpoint) before it fails with SQLITE_BUSY.
// Writers of this process never wait for each other there: they queue for
// the one write connection.
const busyTimeout = "busy_timeout(5000)"

// dsn returns the data source name of name for modernc.org/sqlite. Pragmas
// go in the DSN, not in an Exec after Open, because the driver runs them on
// every connection that the pool opens, including those it reopens later.
func dsn(name string, writer bool, pragmas ...string) string {
	q := url.Values{"_pragma": pragmas}
	if writer {
		q.Set("_txlock", "immediate")
	}
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&" // name is a URI with parameters of its own
	}
	return name + sep + q.Encode()
}

// openPool opens a pool of at most n connections that stay open, and checks
// that the first one can be opened with its pragmas.
func openPool(ctx context.Context, dsn string, n int) (*sql.DB, error) {
	p, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	return setUpPool(ctx, p, n)
}

// openWritePool opens the pool of the one write connection through a
// connector that keeps the handle of each connection it opens, for the
// statements on the handle (rawwrite.go).
func openWritePool(ctx context.Context, dsn string) (*sql.DB, *handleConnector, error) {
	base, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: open: %w", err)
	}
	c := &handleConnector{Connector: base}
	p, err := setUpPool(ctx, sql.OpenDB(c), 1)
	return p, c, err
}

// setUpPool keeps at most n connections of p open, for good, and checks
// that the first one can be opened with its pragmas.
func setUpPool(ctx context.Context, p *sql.DB, n int) (*sql.DB, error) {
	p.SetMaxOpenConns(n)
	p.SetMaxIdleConns(n)
	p.SetConnMaxLifetime(0)
	p.SetConnMaxIdleTime(0)
	if err := p.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open: %w", err), p.Close())
	}
	return p, nil
}

func (db *DB) prepare(ctx context.Context) error {
	for _, s := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&db.insertThread, insertThreadSQL},
		{&db.insertDeliveries, insertDeliveriesSQL},
	} {
		var err error
		if *s.stmt, err = db.write.PrepareContext(ctx, s.sql); err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", s.sql, err)
		}
	}
	var err error
	if db.insertMessages, err = prepareBatch(ctx, db.write, insertMessagesSQL); err != nil {
		return err
	}
	if db.touchThreads, err = prepareBatch(ctx, db.write, touchThreadsSQL); err != nil {
		return err
	}
	if db.seqStmts, err = prepareSeqStmts(ctx, db.write); err != nil {
		return err
	}
	db.writeStmts, err = prepareWriteStmts(ctx, db.write, db.writeConns)
	return err
}

// SetLogger sets where the store logs what a person must act on (a failed
// sync of the log, logsync.go; failed checkpoints, checkpoint.go); until
// then, slog.Default().
func (db *DB) SetLogger(l *slog.Logger) {
	if db.syncer != nil {
		db.syncer.log.Store(l)
	}
}

// Ping reports whether the database answers a query (for readiness
// checks), and fails after a failed sync of the store, which then
// refuses writes until it is opened again (logsync.go).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.syncer.failed(); err != nil {
		return err
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the statements and the pools. It can be called on a DB that
// Open left half-open, and again: later calls return what the first did.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	if db.writer != nil {
		db.writer.close()
	}
	var errs []error
	// The writes the writer committed are answered once synced.
	if db.syncer != nil {
		errs = append(errs, db.syncer.close())
	}
	if db.checkpointer != nil {
		errs = append(errs, db.checkpointer.close())
	}
	failed := db.syncer.failed() // also of the checkpoint at close
	if db.reads != nil {
		errs = append(errs, db.reads.close())
	}
	if db.engine != nil {
		errs = append(errs, db.engine.close())
	}
	for _, s := range []*sql.Stmt{db.insertThread, db.insertDeliveries} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	errs = append(errs, db.insertMessages.close()...)
	errs = append(errs, db.touchThreads.close()...)
	errs = append(errs, db.seqStmts.close()...)
	errs = append(errs, db.writeStmts.close())
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if failed != nil {
		// The last connection to close copies the log into the database
		// file and deletes it, the log as the page cache has it: after a
		// failed sync, maybe not as the disk has it. The writer's and the
		// checkpointer's stay open (while one is, no other can): the
		// process ends with the log on the disk for the next start to
		// replay.
		errs = append(errs, failed)
	} else if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	errs = append(errs, db.closeJournal())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}
