package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/google/uuid"
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// The engine: page reads through SQLite's own statement API
// (modernc.org/sqlite/lib, the C API transpiled to Go), beside
// database/sql. database/sql converts every column of every row into a
// driver.Value and then into its destination, some fifteen allocations a
// row; here a row is read straight from the statement: integers as they
// are, identifiers copied from the blob into a uuid.UUID, text copied once
// into the page's own buffer (see texts). A connection of the engine is
// used by one goroutine at a time, with its own *libc.TLS, and keeps its
// statements prepared.

// engine is a pool of read-only connections to the database, opened as
// they are needed, at most n of them.
type engine struct {
	name    string // the URI that every connection opens
	idle    chan *rawConn
	closing chan struct{}

	mu     sync.Mutex
	opened int // connections opened so far, at most cap(idle)

	// turns, for an in-memory database only, makes the engine's reads and
	// the writer's transactions take turns (see openMemory): a connection
	// of the pool is held under its read lock, from get to put.
	turns *sync.RWMutex
}

// openEngine returns a pool of at most n read-only connections to the
// database at the URI name ("file:...", which SQLite reads as a URI, so
// that it may name a VFS). It opens the first connection at once, to report
// an error now rather than at the first read.
func openEngine(name string, n int) (*engine, error) {
	e := &engine{name: name, idle: make(chan *rawConn, n), closing: make(chan struct{})}
	c, err := e.open()
	if err != nil {
		return nil, err
	}
	e.idle <- c
	return e, nil
}

// errEngineClosed is what a read gets once the store is closed.
var errEngineClosed = errors.New("sqlite: the store is closed")

// get returns an idle connection, opens a new one if there are fewer than n,
// or waits for one to be put back.
func (e *engine) get(ctx context.Context) (*rawConn, error) {
	if e.turns == nil {
		return e.conn(ctx)
	}
	e.turns.RLock()
	c, err := e.conn(ctx)
	if err != nil {
		e.turns.RUnlock()
	}
	return c, err
}

func (e *engine) conn(ctx context.Context) (*rawConn, error) {
	select {
	case c := <-e.idle:
		return c, nil
	default:
	}
	e.mu.Lock()
	if e.opened < cap(e.idle) {
		select {
		case <-e.closing:
			e.mu.Unlock()
			return nil, errEngineClosed
		default:
		}
		c, err := e.open()
		e.mu.Unlock()
		return c, err
	}
	e.mu.Unlock()
	select {
	case c := <-e.idle:
		return c, nil
	case <-e.closing:
		return nil, errEngineClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *engine) put(c *rawConn) {
	e.idle <- c
	if e.turns != nil {
		e.turns.RUnlock()
	}
}

// open opens a connection; e.mu is held, or e is not shared yet.
func (e *engine) open() (*rawConn, error) {
	c, err := openRaw(e.name)
	if err != nil {
		return nil, err
	}
	e.opened++
	return c, nil
}

// close closes every connection, once it is put back, and frees their
// statements and memory.
func (e *engine) close() error {
	select {
	case <-e.closing:
		return nil // closed before
	default:
	}
	close(e.closing)
	e.mu.Lock()
	n := e.opened
	e.mu.Unlock()
	var errs []error
	for range n {
		errs = append(errs, (<-e.idle).close())
	}
	return errors.Join(errs...)
}

// memdbSizeLimit lifts the bound of a memdb database (1 GiB by default)
// to n bytes: the store in memory grows as far as ":memory:" did.
func (e *engine) memdbSizeLimit(ctx context.Context, n int64) error {
	c, err := e.get(ctx)
	if err != nil {
		return err
	}
	defer e.put(c)
	if _, err := c.cstring("main\x00\x00\x00\x00"); err != nil { // "main", then 8-aligned room
		return err
	}
	arg := c.scratch + 8
	*(*int64)(c.ptr(arg)) = n
	if rc := sqlite3.Xsqlite3_file_control(c.tls, c.db, c.scratch, sqlite3.SQLITE_FCNTL_SIZE_LIMIT, arg); rc != sqlite3.SQLITE_OK {
		return c.error(rc)
	}
	return nil
}

// rawConn is one connection of the engine, with its prepared statements.
type rawConn struct {
	tls     *libc.TLS
	db      uintptr // sqlite3*
	stmts   map[string]uintptr
	scratch uintptr // C memory for the arguments and out-parameters of calls
	size    int     // of scratch
	rows    rows    // the statement being read, if any
	tx      readTx  // the read transaction that holds the connection, if any
}

// The flags of every connection: read and write, as the database/sql
// readers (query_only makes it refuse writes; a SQLITE_OPEN_READONLY
// connection could not set up the WAL index of a file that no other
// connection has open), no mutex of SQLite's own (one goroutine at a time).
const rawFlags = sqlite3.SQLITE_OPEN_READWRITE | sqlite3.SQLITE_OPEN_URI | sqlite3.SQLITE_OPEN_NOMUTEX

// rawBusyTimeout is busyTimeout in milliseconds: SQLite's own busy handler
// waits that long for a lock that a writer or a checkpoint holds.
const rawBusyTimeout = 5000

func openRaw(name string) (_ *rawConn, err error) {
	c := &rawConn{tls: libc.NewTLS(), stmts: make(map[string]uintptr)}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("sqlite: open a reader: %w", err), c.close())
		}
	}()
	if err := c.grow(64); err != nil {
		return nil, err
	}
	zName, err := libc.CString(name)
	if err != nil {
		return nil, err
	}
	rc := sqlite3.Xsqlite3_open_v2(c.tls, zName, c.scratch, rawFlags, 0)
	libc.Xfree(c.tls, zName)
	// Even a failed open may return a handle, which holds the message and
	// must be closed.
	c.db = *(*uintptr)(c.ptr(c.scratch))
	if rc != sqlite3.SQLITE_OK {
		return nil, c.error(rc)
	}
	if rc := sqlite3.Xsqlite3_extended_result_codes(c.tls, c.db, 1); rc != sqlite3.SQLITE_OK {
		return nil, c.error(rc)
	}
	if rc := sqlite3.Xsqlite3_busy_timeout(c.tls, c.db, rawBusyTimeout); rc != sqlite3.SQLITE_OK {
		return nil, c.error(rc)
	}
	// The query planner stability guarantee: a statement keeps the plan
	// it was prepared with. Without it SQLite marks the parameters that
	// its planner looked at (STAT4 probes, LIMIT ?), and every new binding
	// of them makes the next step parse and plan the statement again: a
	// sixth of a page's time, on every page.
	if rc := sqlite3.Xsqlite3_db_config(c.tls, c.db, sqlite3.SQLITE_DBCONFIG_ENABLE_QPSG,
		libc.VaList(c.scratch, int32(1), uintptr(0))); rc != sqlite3.SQLITE_OK {
		return nil, c.error(rc)
	}
	if err := c.exec("PRAGMA query_only = 1"); err != nil {
		return nil, err
	}
	return c, nil
}

// ptr turns an address of C memory into a pointer. C memory (libc.Xmalloc,
// SQLite's own) is outside the Go heap and never moves.
func (c *rawConn) ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// bytes returns the n bytes of C memory at p, without copying them: valid
// until the next call of SQLite on the statement.
func (c *rawConn) bytes(p uintptr, n int) []byte {
	if p == 0 || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(c.ptr(p)), n)
}

// grow makes scratch at least n bytes.
func (c *rawConn) grow(n int) error {
	if n <= c.size {
		return nil
	}
	n = max(n, 2*c.size)
	p := libc.Xmalloc(c.tls, types.Size_t(n))
	if p == 0 {
		return fmt.Errorf("sqlite: cannot allocate %d bytes", n)
	}
	if c.scratch != 0 {
		libc.Xfree(c.tls, c.scratch)
	}
	c.scratch, c.size = p, n
	return nil
}

// cstring copies s into scratch with a terminating NUL.
func (c *rawConn) cstring(s string) (uintptr, error) {
	if err := c.grow(len(s) + 1); err != nil {
		return 0, err
	}
	b := c.bytes(c.scratch, len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return c.scratch, nil
}

// error returns SQLite's error for rc, in the driver's form: the
// description of the code, the connection's message if it says more, and
// the code.
func (c *rawConn) error(rc int32) error {
	str := libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	busy := ""
	if rc&0xff == sqlite3.SQLITE_BUSY {
		busy = " (SQLITE_BUSY)"
	}
	if c.db != 0 {
		if msg := libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db)); msg != str {
			return fmt.Errorf("%s: %s (%d)%s", str, msg, rc, busy)
		}
	}
	return fmt.Errorf("%s (%d)%s", str, rc, busy)
}

func (c *rawConn) exec(q string) error {
	z, err := c.cstring(q)
	if err != nil {
		return err
	}
	if rc := sqlite3.Xsqlite3_exec(c.tls, c.db, z, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return c.error(rc)
	}
	return nil
}

// prepare returns the statement of q, prepared once per connection up to
// maxStmts texts; cached reports whether it stays prepared after the read.
func (c *rawConn) prepare(q string) (stmt uintptr, cached bool, err error) {
	if s, ok := c.stmts[q]; ok {
		return s, true, nil
	}
	// The text, then room for the out-parameter *ppStmt after it.
	off := (len(q) + 1 + 7) &^ 7
	if err := c.grow(off + 8); err != nil {
		return 0, false, err
	}
	z, _ := c.cstring(q)
	pp := z + uintptr(off)
	*(*uintptr)(c.ptr(pp)) = 0
	cached = len(c.stmts) < maxStmts
	var flags uint32
	if cached {
		flags = sqlite3.SQLITE_PREPARE_PERSISTENT
	}
	if rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(len(q)), flags, pp, 0); rc != sqlite3.SQLITE_OK {
		return 0, false, c.error(rc)
	}
	stmt = *(*uintptr)(c.ptr(pp))
	if stmt == 0 {
		return 0, false, fmt.Errorf("sqlite: no statement in %q", q)
	}
	if cached {
		c.stmts[q] = stmt
	}
	return stmt, cached, nil
}

// bind binds args to the parameters of stmt, in order. Blobs and text are
// copied by SQLite (SQLITE_TRANSIENT) from scratch, so no Go memory is
// handed to the engine.
func (c *rawConn) bind(stmt uintptr, args []any) error {
	for i, a := range args {
		n := int32(i + 1)
		var rc int32
		switch v := a.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(c.tls, stmt, n)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, n, v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, n, int64(v))
		case bool:
			var b int64
			if v {
				b = 1
			}
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, stmt, n, b)
		case []byte:
			if err := c.grow(len(v)); err != nil {
				return err
			}
			copy(c.bytes(c.scratch, len(v)), v)
			rc = sqlite3.Xsqlite3_bind_blob(c.tls, stmt, n, c.scratch, int32(len(v)), sqlite3.SQLITE_TRANSIENT)
		case string:
			if err := c.grow(len(v)); err != nil {
				return err
			}
			copy(c.bytes(c.scratch, len(v)), v)
			rc = sqlite3.Xsqlite3_bind_text(c.tls, stmt, n, c.scratch, int32(len(v)), sqlite3.SQLITE_TRANSIENT)
		default:
			return fmt.Errorf("sqlite: cannot bind argument %d of type %T", n, a)
		}
		if rc != sqlite3.SQLITE_OK {
			return c.error(rc)
		}
	}
	return nil
}

func (c *rawConn) close() error {
	var errs []error
	for q, s := range c.stmts {
		if rc := sqlite3.Xsqlite3_finalize(c.tls, s); rc != sqlite3.SQLITE_OK {
			errs = append(errs, c.error(rc))
		}
		delete(c.stmts, q)
	}
	if c.db != 0 {
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			errs = append(errs, c.error(rc))
		}
		c.db = 0
	}
	if c.scratch != 0 {
		libc.Xfree(c.tls, c.scratch)
		c.scratch, c.size = 0, 0
	}
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
	return errors.Join(errs...)
}

// query runs q with args on a connection of the pool and returns its rows,
// which the caller reads with next and the column methods and must close.
// Once ctx is done the statement is interrupted, and the rows report
// ctx.Err().
func (e *engine) query(ctx context.Context, q string, args ...any) (*rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := e.get(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.query(ctx, q, args)
	if err != nil {
		e.put(c)
		return nil, err
	}
	r.e = e // close puts c back
	return r, nil
}

// query runs q on c, which the caller holds.
func (c *rawConn) query(ctx context.Context, q string, args []any) (*rows, error) {
	stmt, cached, err := c.prepare(q)
	if err == nil {
		err = c.bind(stmt, args)
		if err != nil {
			c.release(stmt, cached)
		}
	}
	if err != nil {
		return nil, err
	}
	r := &c.rows
	*r = rows{c: c, stmt: stmt, cached: cached, ctx: ctx}
	if ctx.Done() != nil {
		r.interrupted = make(chan struct{})
		db, done := c.db, r.interrupted
		r.stop = context.AfterFunc(ctx, func() {
			// Not c.tls, which the reading goroutine uses: a TLS is
			// not safe for concurrent use. sqlite3_interrupt only sets
			// a flag of the connection, which the statement checks.
			tls := libc.NewTLS()
			sqlite3.Xsqlite3_interrupt(tls, db)
			tls.Close()
			close(done)
		})
	}
	return r, nil
}

// reader runs queries: the engine's pool, each query on any connection,
// or a readTx, all on one.
type reader interface {
	query(ctx context.Context, q string, args ...any) (*rows, error)
}

// readTx is a read transaction on one connection of the engine: the
// queries of a page see one snapshot, and take the read lock of the WAL
// once (fcntl calls, which a statement of its own makes every time).
type readTx struct {
	e *engine
	c *rawConn
}

// begin starts a read transaction; the caller ends it with end.
func (e *engine) begin(ctx context.Context) (*readTx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := e.get(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.run("BEGIN"); err != nil {
		e.put(c)
		return nil, err
	}
	c.tx = readTx{e: e, c: c}
	return &c.tx, nil
}

func (tx *readTx) query(ctx context.Context, q string, args ...any) (*rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tx.c.query(ctx, q, args)
}

// end ends the transaction (it wrote nothing: COMMIT only lets go of the
// snapshot) and puts the connection back.
func (tx *readTx) end() error {
	e, c := tx.e, tx.c
	err := c.run("COMMIT")
	if err != nil && sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) == 0 {
		err = errors.Join(err, c.run("ROLLBACK"))
	}
	c.tx = readTx{}
	e.put(c)
	return err
}

// run runs q, a statement with no rows and no arguments, to its end.
func (c *rawConn) run(q string) error {
	stmt, cached, err := c.prepare(q)
	if err != nil {
		return err
	}
	rc := sqlite3.Xsqlite3_step(c.tls, stmt)
	if rc != sqlite3.SQLITE_DONE && rc != sqlite3.SQLITE_ROW {
		err = c.error(rc)
	}
	c.release(stmt, cached)
	return err
}

// release resets stmt and unbinds its arguments, or finalizes it if it is
// not cached.
func (c *rawConn) release(stmt uintptr, cached bool) {
	if !cached {
		sqlite3.Xsqlite3_finalize(c.tls, stmt)
		return
	}
	sqlite3.Xsqlite3_reset(c.tls, stmt)
	sqlite3.Xsqlite3_clear_bindings(c.tls, stmt)
}

// rows is the result of a query being read. The column methods read the
// current row; their index is the column's, from 0.
type rows struct {
	e           *engine // the pool to put c back to; nil in a readTx
	c           *rawConn
	stmt        uintptr
	cached      bool
	ctx         context.Context
	stop        func() bool
	interrupted chan struct{} // closed once the interrupt has run
	err         error
	done        bool
}

// next steps to the next row, and reports whether there is one.
func (r *rows) next() bool {
	if r.done || r.err != nil {
		return false
	}
	select {
	case <-r.interrupted:
		// An interrupt that came before the statement ran was lost:
		// SQLite forgets it when a statement starts on an idle connection.
		r.err = r.ctx.Err()
		return false
	default:
	}
	switch rc := sqlite3.Xsqlite3_step(r.c.tls, r.stmt); rc {
	case sqlite3.SQLITE_ROW:
		return true
	case sqlite3.SQLITE_DONE:
		r.done = true
	default:
		if rc&0xff == sqlite3.SQLITE_INTERRUPT && r.ctx.Err() != nil {
			r.err = r.ctx.Err()
		} else {
			r.err = r.c.error(rc)
		}
	}
	return false
}

// The column methods read the value that the statement holds for the
// column (its Mem) straight from the statement's result row, as
// sqlite3_column_* do, without their calls: those enter and leave the
// connection's mutex, check for a failed allocation and convert types, a
// fifth of the instructions of a page of 100. A value of another type than
// the one asked for (not in the STRICT tables of the pages) takes the
// calls, which convert it.

// mem returns the value of column col of the current row, or nil if there
// is no such column (then the calls report it).
func (r *rows) mem(col int) *sqlite3.TMem {
	v := (*sqlite3.TVdbe)(r.c.ptr(r.stmt))
	if v.FpResultRow == 0 || col < 0 || col >= int(v.FnResColumn) {
		return nil
	}
	return (*sqlite3.TMem)(r.c.ptr(v.FpResultRow + uintptr(col)*unsafe.Sizeof(sqlite3.TMem{})))
}

func (r *rows) int64(col int) int64 {
	if m := r.mem(col); m != nil && m.Fflags&sqlite3.MEM_Int != 0 {
		return *(*int64)(unsafe.Pointer(&m.Fu))
	}
	return sqlite3.Xsqlite3_column_int64(r.c.tls, r.stmt, int32(col))
}

func (r *rows) bool(col int) bool { return r.int64(col) != 0 }

// blob returns the bytes of a blob column, valid until the next call on r.
func (r *rows) blob(col int) []byte {
	if m := r.mem(col); m != nil && m.Fflags&(sqlite3.MEM_Blob|sqlite3.MEM_Str) != 0 && m.Fflags&sqlite3.MEM_Zero == 0 {
		return r.c.bytes(m.Fz, int(m.Fn))
	}
	p := sqlite3.Xsqlite3_column_blob(r.c.tls, r.stmt, int32(col))
	return r.c.bytes(p, int(sqlite3.Xsqlite3_column_bytes(r.c.tls, r.stmt, int32(col))))
}

// text returns the bytes of a text column, valid until the next call on r.
// The database's text is UTF-8 (SQLite's default, which nothing changes).
func (r *rows) text(col int) []byte {
	if m := r.mem(col); m != nil && m.Fflags&sqlite3.MEM_Str != 0 && m.Fenc == sqlite3.SQLITE_UTF8 {
		return r.c.bytes(m.Fz, int(m.Fn))
	}
	p := sqlite3.Xsqlite3_column_text(r.c.tls, r.stmt, int32(col))
	return r.c.bytes(p, int(sqlite3.Xsqlite3_column_bytes(r.c.tls, r.stmt, int32(col))))
}

// uuid reads an identifier from its 16 bytes. Any other length is an
// error of the rows, as uuid.UUID's Scan would report it.
func (r *rows) uuid(col int) (id uuid.UUID) {
	b := r.blob(col)
	if len(b) != len(id) && r.err == nil {
		r.err = fmt.Errorf("sqlite: column %d: an identifier of %d bytes", col, len(b))
	}
	copy(id[:], b)
	return id
}

// close ends the read, puts the connection back and returns the error
// that ended the rows, if any.
func (r *rows) close() error {
	if r.stop != nil && !r.stop() {
		// The interrupt has started: let it end before the connection
		// goes back, so that it cannot hit a read of someone else. An
		// interrupt that comes when no statement runs has no effect.
		<-r.interrupted
		if r.err == nil && !r.done {
			r.err = r.ctx.Err()
		}
	}
	e, c, err := r.e, r.c, r.err
	c.release(r.stmt, r.cached)
	*r = rows{} // r is c.rows
	if e != nil {
		e.put(c) // else a readTx holds c
	}
	return err
}

// texts copies the text of a page into few allocations: each string is a
// slice of a shared buffer that is never written again once the string is
// made, so the strings stay valid and immutable.
type texts struct{ buf []byte }

// textChunk is the size of the buffers of texts.
const textChunk = 4096

// string returns a copy of b.
func (t *texts) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(t.buf)-len(t.buf) {
		if len(b) > textChunk/4 {
			return string(b) // a large text gets its own allocation
		}
		t.buf = make([]byte, 0, textChunk)
	}
	n := len(t.buf)
	t.buf = append(t.buf, b...)
	s := t.buf[n:len(t.buf):len(t.buf)]
	return unsafe.String(unsafe.SliceData(s), len(s))
}
