package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mewsref/mewsref/mews"
)

// The insert of a thread, the insert of a message, the update of a thread's
// UpdatedUTC that is also the scope check of messages/add, and the look for
// an integration's webhooks run on the write connection through SQLite's
// own statement API, as the engine's page reads do (engine.go), not through
// database/sql: prepared once, their parameters bound from one buffer of C
// memory that SQLite reads in place (SQLITE_STATIC), stepped, reset.
// Through database/sql each insert also took the statement for the
// transaction (a new *sql.Stmt), boxed its arguments, converted them, and
// the driver copied each text and blob into memory of its own: about a
// third of a thread's insert's CPU (docs/BENCHMARKS.md, "The CPU of a
// thread's add"), and of messages/add the rows read back through
// database/sql as well (same file, "The writer's CPU per messages/add").
//
// The statement shares the write connection with database/sql, which runs
// the transaction around it. It is used only inside a write transaction
// (BEGIN IMMEDIATE ... COMMIT, from the writer or Import), while that
// transaction holds the pool's one connection, so nothing else uses the
// connection meanwhile; and it is used only when SQLite says that its
// connection is inside a transaction (sqlite3_get_autocommit).
//
// The pool replaces its connection when the driver reports it bad: with an
// interrupt pending on it (ResetSession, IsValid), which a context that ends
// just after a statement's last step leaves behind (the driver's
// interruptOnDone). The connector of the pool keeps the handle of the
// connection it opened last, the pool's one connection, and the statements
// follow it: prepared again on the new handle and finalized on the old,
// which database/sql has closed and SQLite then frees
// (TestWriteStmtsFollowAReplacedConnection). Left on the old handle, the
// insert would go through database/sql for good (that connection is never
// inside a transaction again), and the old connection stay open until Close.

// handleConnector opens the write pool's connections and keeps the handle
// of the last one opened.
type handleConnector struct {
	driver.Connector
	last atomic.Uintptr
}

func (c *handleConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err == nil {
		h, _ := driverHandle(dc)
		c.last.Store(h)
	}
	return dc, err
}

// writeStmts are statements prepared on the write connection's handle.
type writeStmts struct {
	mu       sync.Mutex // the statements are used from one goroutine at a time
	c        rawConn    // the handle of the write connection, this TLS and scratch
	thread   uintptr    // insertThreadSQL; 0 once closed
	message  uintptr    // insertMessageSQL
	touch    uintptr    // touchThreadSQL
	webhooks uintptr    // hasWebhooksSQL
	conns    *handleConnector
}

// insertMessageSQL inserts one message: a step per message of a prepared
// statement, which costs no more than a row of a statement of many rows.
var insertMessageSQL = insertMessagesSQL(1)

// touchThreadSQL is touchThreadsSQL of one thread, by its id: SQLite
// updates the row as it finds it (one pass, no ephemeral table of the rows
// to update), and returns its enterprise if the thread is the
// integration's.
const touchThreadSQL = `UPDATE threads SET updated_utc = max(updated_utc, ?1)
	WHERE id = ?2 AND +integration_id = ?3
	RETURNING enterprise_id`

// hasWebhooksSQL tells whether an integration has a webhook: without one,
// messages/add queues no delivery, and need not build its payloads.
const hasWebhooksSQL = `SELECT 1 FROM webhooks WHERE integration_id = ? LIMIT 1`

// prepareWriteStmts prepares the statements on the one connection of pool,
// which conns opens. The connection stays database/sql's; only its handle
// is borrowed, and holding a statement keeps it valid (sqlite3_close_v2
// waits for the statements to be finalized).
func prepareWriteStmts(ctx context.Context, pool *sql.DB, conns *handleConnector) (_ *writeStmts, err error) {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	var handle uintptr
	if err := conn.Raw(func(dc any) error {
		var ok bool
		handle, ok = driverHandle(dc)
		if !ok {
			return fmt.Errorf("sqlite: the driver's connection %T has no handle field db", dc)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	w := &writeStmts{c: rawConn{tls: libc.NewTLS(), db: handle, stmts: map[string]uintptr{}}, conns: conns}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.close())
		}
	}()
	if err := w.c.grow(256); err != nil {
		return nil, err
	}
	if err := w.prepare(); err != nil {
		return nil, err
	}
	return w, nil
}

// prepare prepares the statements on the statements' connection.
func (w *writeStmts) prepare() (err error) {
	for _, s := range []struct {
		stmt *uintptr
		sql  string
	}{
		{&w.thread, insertThreadSQL},
		{&w.message, insertMessageSQL},
		{&w.touch, touchThreadSQL},
		{&w.webhooks, hasWebhooksSQL},
	} {
		if *s.stmt, _, err = w.c.prepare(s.sql); err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", s.sql, err)
		}
	}
	return nil
}

// driverHandle returns the sqlite3* of a connection of modernc.org/sqlite:
// its field db (unexported: the driver offers no accessor). Reading an
// unexported field's value is allowed through reflect.
// TestWriteStmtsShareTheTransaction fails if the field goes away or means
// something else.
func driverHandle(dc any) (uintptr, bool) {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || f.Uint() == 0 {
		return 0, false
	}
	return uintptr(f.Uint()), true
}

// inTx reports whether the statements' connection is inside a transaction:
// the transaction of the caller, who holds the write connection. The
// statements first move to that connection if the pool replaced the one
// they were on.
// False once they are closed: a DB closed during an Import (which holds
// the connection, so the pool's Close comes after) goes on through
// database/sql, whose closed statements fail.
func (w *writeStmts) inTx() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.thread == 0 {
		return false
	}
	if h := w.conns.last.Load(); h != 0 && h != w.c.db && w.follow(h) != nil {
		return false
	}
	return sqlite3.Xsqlite3_get_autocommit(w.c.tls, w.c.db) == 0
}

// follow prepares the statements on handle, the pool's connection now, and
// finalizes them on the connection they were on. On an error they are
// closed (the inserts go through database/sql).
func (w *writeStmts) follow(handle uintptr) (err error) {
	_ = w.finalize() // gone whatever it answers (the error of the last step)
	clear(w.c.stmts)
	w.c.db = handle
	if err = w.prepare(); err != nil {
		_ = w.finalize() // those prepared before the error; w.thread 0: closed
	}
	return err
}

// finalize finalizes the statements.
func (w *writeStmts) finalize() error {
	var errs []error
	for _, s := range []*uintptr{&w.thread, &w.message, &w.touch, &w.webhooks} {
		if *s != 0 {
			if rc := sqlite3.Xsqlite3_finalize(w.c.tls, *s); rc != sqlite3.SQLITE_OK {
				errs = append(errs, w.c.codeError(rc))
			}
			*s = 0
		}
	}
	return errors.Join(errs...)
}

// insertThreads inserts ts with the seq values from seq on, one step of the
// prepared statement each. The caller holds the write connection in a
// transaction (inTx). A row that fails leaves the rows before it inserted,
// as through database/sql.
func (w *writeStmts) insertThreads(ctx context.Context, seq int64, ts []mews.Thread) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.thread == 0 {
		return errClosed // closed since inTx
	}
	for i, t := range ts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if testBeforeRawInsert != nil {
			testBeforeRawInsert()
		}
		if err := w.insertThread(&t, seq+int64(i)); err != nil {
			return fmt.Errorf("sqlite: add thread %s: %w", t.ID, err)
		}
	}
	return nil
}

// testBeforeRawInsert, if set (tests), runs before each row's insert.
var testBeforeRawInsert func()

func (w *writeStmts) insertThread(t *mews.Thread, seq int64) error {
	c, s := &w.c, w.thread
	// The three ids, then the two texts, in scratch; SQLite reads them in
	// place until the bindings are cleared below.
	const ids = 48
	if err := c.grow(ids + len(t.OriginalSender) + len(t.Subject)); err != nil {
		return err
	}
	b := c.bytes(c.scratch, c.size)
	copy(b[0:], t.IntegrationID[:])
	copy(b[16:], t.EnterpriseID[:])
	copy(b[32:], t.ID[:])
	n := copy(b[ids:], t.OriginalSender)
	copy(b[ids+n:], t.Subject)
	p := c.scratch
	resolved := int64(0)
	if t.IsResolved {
		resolved = 1
	}
	tls := c.tls
	return c.stepOnce(s,
		sqlite3.Xsqlite3_bind_blob(tls, s, 1, p, 16, sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_blob(tls, s, 2, p+16, 16, sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_int64(tls, s, 3, micros(t.CreatedUTC)),
		sqlite3.Xsqlite3_bind_int64(tls, s, 4, seq),
		sqlite3.Xsqlite3_bind_blob(tls, s, 5, p+32, 16, sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_text(tls, s, 6, p+ids, int32(n), sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_text(tls, s, 7, p+ids+uintptr(n), int32(len(t.Subject)), sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_int64(tls, s, 8, micros(t.UpdatedUTC)),
		sqlite3.Xsqlite3_bind_int64(tls, s, 9, resolved),
	)
}

// insertMessages inserts msgs with the seq values from seq on, one step of
// the prepared statement each, as insertThreads does the threads.
func (w *writeStmts) insertMessages(ctx context.Context, seq int64, msgs []mews.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.thread == 0 {
		return errClosed // closed since inTx
	}
	for i := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.insertMessage(&msgs[i], seq+int64(i)); err != nil {
			return fmt.Errorf("sqlite: add messages: %w", err)
		}
	}
	return nil
}

func (w *writeStmts) insertMessage(m *mews.Message, seq int64) error {
	c, s := &w.c, w.message
	// The two ids, then the text and the sender, in scratch.
	const ids = 32
	if err := c.grow(ids + len(m.Text) + len(m.Sender)); err != nil {
		return err
	}
	b := c.bytes(c.scratch, c.size)
	copy(b[0:], m.ThreadID[:])
	copy(b[16:], m.ID[:])
	n := copy(b[ids:], m.Text)
	copy(b[ids+n:], m.Sender)
	p, tls := c.scratch, c.tls
	return c.stepOnce(s,
		sqlite3.Xsqlite3_bind_blob(tls, s, 1, p, 16, sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_int64(tls, s, 2, micros(m.CreatedUTC)),
		sqlite3.Xsqlite3_bind_int64(tls, s, 3, seq),
		sqlite3.Xsqlite3_bind_blob(tls, s, 4, p+16, 16, sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_text(tls, s, 5, p+ids, int32(n), sqlite3.SQLITE_STATIC),
		sqlite3.Xsqlite3_bind_text(tls, s, 6, p+ids+uintptr(n), int32(len(m.Sender)), sqlite3.SQLITE_STATIC),
	)
}

// touchThreads moves the UpdatedUTC of each of threads of integration to
// at least the instant of the same index in at (Unix microseconds), in
// order, and sets enterprises[i] to the enterprise of threads[i]. It stops
// at the first thread that is not the integration's, and returns how many
// it found before it: len(threads) if all.
func (w *writeStmts) touchThreads(ctx context.Context, integration uuid.UUID, threads []uuid.UUID, at []int64, enterprises []uuid.UUID) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.thread == 0 {
		return 0, errClosed // closed since inTx
	}
	c, s := &w.c, w.touch
	if err := c.grow(32); err != nil {
		return 0, err
	}
	b := c.bytes(c.scratch, 32)
	copy(b[16:], integration[:])
	p, tls := c.scratch, c.tls
	for i, id := range threads {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		copy(b, id[:])
		for _, rc := range [...]int32{
			sqlite3.Xsqlite3_bind_int64(tls, s, 1, at[i]),
			sqlite3.Xsqlite3_bind_blob(tls, s, 2, p, 16, sqlite3.SQLITE_STATIC),
			sqlite3.Xsqlite3_bind_blob(tls, s, 3, p+16, 16, sqlite3.SQLITE_STATIC),
		} {
			if rc != sqlite3.SQLITE_OK {
				err := c.codeError(rc)
				sqlite3.Xsqlite3_clear_bindings(tls, s)
				return i, fmt.Errorf("sqlite: update threads: %w", err)
			}
		}
		// SQLite makes the change before the first row; the second step
		// ends the statement.
		found, err := false, error(nil)
		switch rc := sqlite3.Xsqlite3_step(tls, s); rc {
		case sqlite3.SQLITE_ROW:
			found = true
			if v := sqlite3.Xsqlite3_column_blob(tls, s, 0); v == 0 || sqlite3.Xsqlite3_column_bytes(tls, s, 0) != 16 {
				err = fmt.Errorf("sqlite: the enterprise of thread %s is not 16 bytes", id)
			} else {
				copy(enterprises[i][:], c.bytes(v, 16))
			}
			if rc := sqlite3.Xsqlite3_step(tls, s); rc != sqlite3.SQLITE_DONE && err == nil {
				err = c.codeError(rc)
			}
		case sqlite3.SQLITE_DONE:
		default:
			err = c.codeError(rc)
		}
		sqlite3.Xsqlite3_reset(tls, s)
		sqlite3.Xsqlite3_clear_bindings(tls, s)
		if err != nil {
			return i, fmt.Errorf("sqlite: update threads: %w", err)
		}
		if !found {
			return i, nil
		}
	}
	return len(threads), nil
}

// hasWebhooks reports whether integration has a webhook.
func (w *writeStmts) hasWebhooks(integration uuid.UUID) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.thread == 0 {
		return false, errClosed // closed since inTx
	}
	c, s := &w.c, w.webhooks
	if err := c.grow(16); err != nil {
		return false, err
	}
	copy(c.bytes(c.scratch, 16), integration[:])
	tls := c.tls
	if rc := sqlite3.Xsqlite3_bind_blob(tls, s, 1, c.scratch, 16, sqlite3.SQLITE_STATIC); rc != sqlite3.SQLITE_OK {
		return false, fmt.Errorf("sqlite: find webhooks: %w", c.codeError(rc))
	}
	var found bool
	var err error
	switch rc := sqlite3.Xsqlite3_step(tls, s); rc {
	case sqlite3.SQLITE_ROW:
		found = true
	case sqlite3.SQLITE_DONE:
	default:
		err = fmt.Errorf("sqlite: find webhooks: %w", c.codeError(rc))
	}
	sqlite3.Xsqlite3_reset(tls, s)
	sqlite3.Xsqlite3_clear_bindings(tls, s)
	return found, err
}

// close finalizes the statements and frees the TLS and scratch; the
// connection is database/sql's, which closes it.
func (w *writeStmts) close() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c := &w.c
	if c.tls == nil {
		return nil // closed before
	}
	err := w.finalize()
	clear(c.stmts)
	libc.Xfree(c.tls, c.scratch)
	c.scratch, c.size = 0, 0
	c.tls.Close()
	c.tls = nil
	return err
}

// codeError is SQLite's error for rc, as rawConn.error words it, with its
// code: the writer tells by the code whether SQLite rolled back the whole
// transaction (abortsTransaction).
func (c *rawConn) codeError(rc int32) error {
	return &codeError{code: int(rc), err: c.error(rc)}
}

type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }

// Code returns SQLite's (extended) result code, as sqlite.Error's Code.
func (e *codeError) Code() int { return e.code }

// stepOnce steps s once to its end, after the results of binding its
// parameters (binds): the first that failed is the error, and s is left
// without bindings either way.
func (c *rawConn) stepOnce(s uintptr, binds ...int32) error {
	tls := c.tls
	for _, rc := range binds {
		if rc != sqlite3.SQLITE_OK {
			err := c.codeError(rc)
			sqlite3.Xsqlite3_clear_bindings(tls, s)
			return err
		}
	}
	var err error
	if rc := sqlite3.Xsqlite3_step(tls, s); rc != sqlite3.SQLITE_DONE {
		err = c.codeError(rc)
	}
	sqlite3.Xsqlite3_reset(tls, s)
	sqlite3.Xsqlite3_clear_bindings(tls, s)
	return err
}
