package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mewsref/mewsref/mews"
)

// TestWriteStmtsShareTheTransaction: the insert of threads through the
// write connection's own handle (rawwrite.go) is used inside the writer's
// transactions, and is a part of them: a write that fails after inserting
// a thread leaves no thread (its savepoint is rolled back), one that
// succeeds leaves it, byte for byte, and a duplicate id fails with
// SQLite's code, which the writer reads as an error of the write alone.
// It fails if the driver's connection no longer has the handle where
// driverHandle reads it (Open fails), or if the statement ran outside the
// transaction (the failed write's thread would stay).
func TestWriteStmtsShareTheTransaction(t *testing.T) {
	for _, path := range []string{Memory, "file"} {
		t.Run(path, func(t *testing.T) {
			if path != Memory {
				path = filepath.Join(t.TempDir(), "raw.db")
			}
			db := openClosed(t, path)
			ctx := t.Context()
			scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
			at := time.Date(2026, 12, 2, 5, 30, 0, 123456000, time.UTC)
			thread := func(sender, subject string) mews.Thread {
				return mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
					OriginalSender: sender, Subject: subject, CreatedUTC: at, UpdatedUTC: at.Add(time.Second), IsResolved: true}
			}
			kept, lost := thread("Jane \x00 Doe", ""), thread("a", "lost")
			errFail := errors.New("fails after the insert")
			raw := false
			if err := db.writer.do(ctx, func(ctx context.Context, tx *txn) error {
				raw = db.writeStmts.inTx()
				if err := db.addThreads(ctx, tx, lost); err != nil {
					return err
				}
				return errFail
			}); !errors.Is(err, errFail) {
				t.Fatalf("the failing write: %v", err)
			}
			if !raw {
				t.Fatal("inside a write transaction the insert does not go through the write connection's handle")
			}
			if err := db.MessageThreadsAdd(ctx, kept); err != nil {
				t.Fatal(err)
			}
			err := db.MessageThreadsAdd(ctx, kept)
			var coded interface{ Code() int }
			if !errors.As(err, &coded) || coded.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE || abortsTransaction(err) {
				t.Fatalf("adding a thread of the same id again: %v, want a SQLITE_CONSTRAINT_UNIQUE of the write alone", err)
			}
			page, err := db.MessageThreadsGetAll(ctx, mews.ThreadFilter{Scope: scope, IDs: []uuid.UUID{kept.ID, lost.ID}, Page: mews.Page{Count: 10}})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 1 || page[0] != kept {
				t.Fatalf("threads stored: %+v, want only %+v", page, kept)
			}
		})
	}
}

// TestImportCanceledStoresNothing: an Import whose context ends while it
// inserts its threads stores none of them. database/sql rolls back a
// transaction whose context ends, on a goroutine of its own and without
// waiting for the raw statement (which it does not know of): the rows
// inserted after that rollback would each be committed on their own, and
// the connection handed to the next user meanwhile.
func TestImportCanceledStoresNothing(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "import.db"))
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	at := time.Date(2026, 12, 2, 6, 50, 0, 0, time.UTC)
	var threads []mews.Thread
	for range 3 {
		threads = append(threads, mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0],
			OriginalSender: "a", Subject: "b", CreatedUTC: at, UpdatedUTC: at})
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rows, raw := 0, false
	testBeforeRawInsert = func() {
		raw = true
		if rows++; rows != 2 {
			return
		}
		cancel()
		// Give database/sql's rollback, if there is one, the time to run.
		for i := 0; i < 100 && sqlite3.Xsqlite3_get_autocommit(db.writeStmts.c.tls, db.writeStmts.c.db) == 0; i++ { // inTx, under the lock insertThreads holds
			time.Sleep(10 * time.Millisecond)
		}
	}
	defer func() { testBeforeRawInsert = nil }()
	if err := db.Import(ctx, threads, nil); err == nil {
		t.Fatal("Import whose context ended succeeded")
	}
	if !raw {
		t.Fatal("Import did not insert through the write connection's handle")
	}
	ids := []uuid.UUID{threads[0].ID, threads[1].ID, threads[2].ID}
	page, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, IDs: ids, Page: mews.Page{Count: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Fatalf("a canceled Import stored %d of its threads", len(page))
	}
}

// TestWriteStmtsClosedDuringImport: the statements closed while an Import
// holds the write connection (DB.Close closes them before the pool, which
// waits for the Import) leave the Import to database/sql, whose statements
// are still open here: it succeeds, or fails with an error, never crashes
// (the closed statements' TLS is gone: a nil pointer in SQLite's mutex).
func TestWriteStmtsClosedDuringImport(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "closed.db"))
	if err := db.writeStmts.close(); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	th := mews.Thread{ID: uuid.New(), IntegrationID: uuid.New(), EnterpriseID: uuid.New(), OriginalSender: "a", Subject: "b", CreatedUTC: at, UpdatedUTC: at}
	if err := db.Import(t.Context(), []mews.Thread{th}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.writeStmts.insertThreads(t.Context(), 1, []mews.Thread{th}); !errors.Is(err, errClosed) {
		t.Fatalf("insertThreads on closed statements: %v, want errClosed", err)
	}
}

// TestWriteStmtsFollowAReplacedConnection: when database/sql replaces the
// write connection, the threads' insert moves to the new connection's
// handle: it neither goes through database/sql for good (its statement's
// connection is never inside a transaction again) nor keeps the old
// connection open until Close. Here the pool replaces it because the
// driver finds an interrupt pending on it (its ResetSession reports it
// bad), as a context that ends just after a statement's last step leaves
// one (the driver's interruptOnDone).
func TestWriteStmtsFollowAReplacedConnection(t *testing.T) {
	db := openClosed(t, filepath.Join(t.TempDir(), "replaced.db"))
	handle := func() (h uintptr) {
		conn, err := db.write.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Raw(func(dc any) error { h, _ = driverHandle(dc); return nil }); err != nil {
			t.Fatal(err)
		}
		return h
	}
	old := db.writeStmts.c.db
	sqlite3.Xsqlite3_interrupt(db.writeStmts.c.tls, old)
	raw := 0
	testBeforeRawInsert = func() { raw++ }
	defer func() { testBeforeRawInsert = nil }()
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{uuid.New()}}
	th := mews.Thread{ID: uuid.New(), IntegrationID: scope.IntegrationID, EnterpriseID: scope.EnterpriseIDs[0], OriginalSender: "a", Subject: "b", CreatedUTC: at, UpdatedUTC: at}
	if err := db.MessageThreadsAdd(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	if now := handle(); now == old {
		t.Fatal("the pool kept its write connection: the test no longer replaces it")
	} else if db.writeStmts.c.db != now {
		t.Fatalf("the statements are on the handle %#x, the write connection is %#x", db.writeStmts.c.db, now)
	}
	if raw != 1 {
		t.Fatalf("%d inserts through the write connection's handle after the pool replaced it, want 1", raw)
	}
	page, err := db.MessageThreadsGetAll(t.Context(), mews.ThreadFilter{Scope: scope, IDs: []uuid.UUID{th.ID}, Page: mews.Page{Count: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0] != th {
		t.Fatalf("threads stored: %+v, want %+v", page, th)
	}
}

// TestMessagesAddRawAgreesWithDatabaseSQL: messages/add through the write
// connection's own handle (rawwrite.go: the threads' update and scope
// check, the messages' insert, the look for webhooks) and through
// database/sql (the path taken when the statements are closed) give the
// same answers, errors word for word, and leave the same threads,
// messages and webhook deliveries: an add to several threads, one of them
// twice and its later message first; more threads than messageThreads
// searches linearly; a thread that is not there, of another enterprise of
// the integration, of another integration, both kinds of failure in either
// order; a message id stored before; a failed add changes nothing.
func TestMessagesAddRawAgreesWithDatabaseSQL(t *testing.T) {
	for _, path := range []string{Memory, "file"} {
		t.Run(path, func(t *testing.T) {
			dbPath := func(name string) string {
				if path == Memory {
					return Memory
				}
				return filepath.Join(t.TempDir(), name)
			}
			raw, viaSQL := openClosed(t, dbPath("raw.db")), openClosed(t, dbPath("sql.db"))
			if err := viaSQL.writeStmts.close(); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			e1, e2, e3 := uuid.New(), uuid.New(), uuid.New()
			scope := mews.Scope{IntegrationID: uuid.New(), EnterpriseIDs: []uuid.UUID{e1, e2}}
			other := uuid.New() // another integration
			at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
			var threads []mews.Thread
			thread := func(integration, enterprise uuid.UUID) uuid.UUID {
				th := mews.Thread{ID: uuid.New(), IntegrationID: integration, EnterpriseID: enterprise,
					OriginalSender: "s", Subject: "t", CreatedUTC: at, UpdatedUTC: at}
				threads = append(threads, th)
				return th.ID
			}
			tA, tB, tC := thread(scope.IntegrationID, e1), thread(scope.IntegrationID, e1), thread(scope.IntegrationID, e2)
			tD, tE := thread(scope.IntegrationID, e3), thread(other, e1)
			var many []uuid.UUID
			for range 20 {
				many = append(many, thread(scope.IntegrationID, e2))
			}
			unknown := uuid.New()
			stored := uuid.New() // the id of a message added by the first add
			msg := func(id, th uuid.UUID, s time.Duration) mews.Message {
				if id == uuid.Nil {
					id = uuid.New()
				}
				return mews.Message{ID: id, ThreadID: th, Text: "x \x00 é", Sender: mews.SenderApplication, CreatedUTC: at.Add(s)}
			}
			var manyMsgs []mews.Message
			for i, th := range append(slices.Clone(many), many[3], many[17]) {
				manyMsgs = append(manyMsgs, msg(uuid.Nil, th, time.Duration(i)*time.Millisecond))
			}
			adds := [][]mews.Message{
				{msg(stored, tA, 3*time.Second), msg(uuid.Nil, tB, time.Second), msg(uuid.Nil, tA, 2*time.Second), msg(uuid.Nil, tC, time.Second)},
				manyMsgs,
				{msg(uuid.Nil, tA, 9*time.Second), msg(uuid.Nil, unknown, 9*time.Second), msg(uuid.Nil, tB, 9*time.Second)},
				{msg(uuid.Nil, tA, 9*time.Second), msg(uuid.Nil, tD, 9*time.Second)},
				{msg(uuid.Nil, tE, 9*time.Second)},
				{msg(uuid.Nil, tD, 9*time.Second), msg(uuid.Nil, unknown, 9*time.Second)},
				{msg(uuid.Nil, unknown, 9*time.Second), msg(uuid.Nil, tD, 9*time.Second)},
				{msg(uuid.Nil, tB, 9*time.Second), msg(stored, tC, 9*time.Second)},
				{msg(uuid.Nil, tC, 4*time.Second), msg(uuid.Nil, tA, time.Second)}, // tA's UpdatedUTC stays at +3s
			}
			wantFail := []bool{false, false, true, true, true, true, true, true, false}
			var outcomes [2][]string
			for k, db := range []*DB{raw, viaSQL} {
				if err := db.Import(ctx, threads, nil); err != nil {
					t.Fatal(err)
				}
				for i, msgs := range adds {
					if i == len(adds)-1 {
						// The last add with webhooks: both queue the same.
						if err := db.WebhooksSet(ctx, scope.IntegrationID, []string{"http://a.test/h"}); err != nil {
							t.Fatal(err)
						}
					}
					var usedRaw bool
					err := db.writer.do(ctx, func(context.Context, *txn) error { usedRaw = db.writeStmts.inTx(); return nil })
					if err != nil || usedRaw != (k == 0) {
						t.Fatalf("store %d takes the raw statements: %v (%v)", k, usedRaw, err)
					}
					err = db.MessagesAdd(ctx, scope, msgs)
					if (err != nil) != wantFail[i] {
						t.Fatalf("store %d, add %d: %v, want failure %v", k, i, err, wantFail[i])
					}
					outcomes[k] = append(outcomes[k], fmt.Sprint(err))
				}
			}
			for i := range adds {
				if outcomes[0][i] != outcomes[1][i] {
					t.Errorf("add %d: raw %q, database/sql %q", i, outcomes[0][i], outcomes[1][i])
				}
			}
			for i, want := range map[int]uuid.UUID{2: unknown, 3: tD, 4: tE, 5: tD, 6: unknown} {
				if w := fmt.Sprintf("Invalid MessageThreadId: %s is not a message thread of this client.", want); !strings.Contains(outcomes[0][i], w) {
					t.Errorf("add %d: %s, want %q", i, outcomes[0][i], w)
				}
			}
			var states [2]string
			for k, db := range []*DB{raw, viaSQL} {
				var b strings.Builder
				for _, th := range threads {
					got, err := db.ThreadGet(ctx, th.ID)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&b, "thread %s updated %s\n", got.ID, got.UpdatedUTC.Sub(at))
					s := mews.Scope{IntegrationID: th.IntegrationID, EnterpriseIDs: []uuid.UUID{th.EnterpriseID}}
					ms, err := db.MessagesGetAll(ctx, mews.MessageFilter{Scope: s, ThreadIDs: []uuid.UUID{th.ID}, Page: mews.Page{Count: 100}})
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range ms {
						fmt.Fprintf(&b, "  message %s %q %s %s\n", m.ID, m.Text, m.Sender, m.CreatedUTC.Sub(at))
					}
				}
				ds, err := db.Deliveries(ctx, nil, 10)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					fmt.Fprintf(&b, "delivery %s %s %s %s\n", d.IntegrationID, d.URL, d.Payload, d.CreatedUTC.Sub(at))
				}
				if len(ds) != 2 { // one per enterprise of the last add
					t.Errorf("store %d: %d deliveries, want 2", k, len(ds))
				}
				states[k] = b.String()
			}
			if states[0] != states[1] {
				t.Errorf("raw:\n%s\ndatabase/sql:\n%s", states[0], states[1])
			}
			for _, want := range []string{
				fmt.Sprintf("thread %s updated 3s\n", tA), fmt.Sprintf("thread %s updated 1s\n", tB),
				fmt.Sprintf("thread %s updated 4s\n", tC), fmt.Sprintf("thread %s updated 0s\n", tD),
				fmt.Sprintf("thread %s updated 20ms\n", many[3]), fmt.Sprintf("thread %s updated 21ms\n", many[17]),
				fmt.Sprintf("thread %s updated 19ms\n", many[19]),
			} {
				if !strings.Contains(states[0], want) {
					t.Errorf("raw store lacks %q:\n%s", want, states[0])
				}
			}
		})
	}
}
