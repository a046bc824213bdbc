package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// The column methods of rows read the statement's result row (its Mem)
// directly when the value is of the type asked for, and take the calls
// sqlite3_column_* otherwise. These tests hold them to the calls: for every
// storage class, in tables and from expressions, in a UTF-8 and a UTF-16
// database, read first or after another column method has converted the
// value in place. They are what would notice a version of
// modernc.org/sqlite whose Mem or result row means something else.

// Reads through the calls alone, as the column methods were before they
// read the Mem.
func (r *rows) callInt64(col int) int64 {
	return sqlite3.Xsqlite3_column_int64(r.c.tls, r.stmt, int32(col))
}

func (r *rows) callBlob(col int) []byte {
	p := sqlite3.Xsqlite3_column_blob(r.c.tls, r.stmt, int32(col))
	return r.c.bytes(p, int(sqlite3.Xsqlite3_column_bytes(r.c.tls, r.stmt, int32(col))))
}

func (r *rows) callText(col int) []byte {
	p := sqlite3.Xsqlite3_column_text(r.c.tls, r.stmt, int32(col))
	return r.c.bytes(p, int(sqlite3.Xsqlite3_column_bytes(r.c.tls, r.stmt, int32(col))))
}

// memValues are expressions of every storage class and of the values that
// SQLite keeps in a Mem in more than one form.
var memValues = []string{
	"NULL", "0", "1", "-1", "9223372036854775807", "-9223372036854775808",
	"1.5", "-0.0", "1e300", "2.0", "CAST(3 AS REAL)",
	"''", "'héllo'", "'123'", "' 42 '", "'12abc'", "'1e3'", "char(0x2028, 0, 0xfffd)", "'a' || char(0) || 'b'",
	"x''", "x'00ff'", "x'313233'", "zeroblob(0)", "zeroblob(7)", "CAST(printf('%.*c', 3000, 'y') AS BLOB)", "zeroblob(70000)",
	"CAST(7 AS TEXT)", "CAST('9' AS INTEGER)", "CAST(x'3435' AS TEXT)", "CAST('ab' AS BLOB)",
	"printf('%.*c', 70000, 'x')", "hex(zeroblob(40000))",
}

// columnReaders are the column methods, each through the Mem and through the
// calls, as comparable strings (nil and empty are told apart).
var columnReaders = []struct {
	name       string
	fast, call func(r *rows, col int) string
}{
	{"int64", func(r *rows, col int) string { return fmt.Sprint(r.int64(col)) },
		func(r *rows, col int) string { return fmt.Sprint(r.callInt64(col)) }},
	{"blob", func(r *rows, col int) string { return showBytes(r.blob(col)) },
		func(r *rows, col int) string { return showBytes(r.callBlob(col)) }},
	{"text", func(r *rows, col int) string { return showBytes(r.text(col)) },
		func(r *rows, col int) string { return showBytes(r.callText(col)) }},
}

func showBytes(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 64 {
		return fmt.Sprintf("%d bytes %q...%q", len(b), b[:32], b[len(b)-32:])
	}
	return fmt.Sprintf("%q", b)
}

func TestColumnReadsAreTheCalls(t *testing.T) {
	for _, enc := range []string{"UTF-8", "UTF-16le", "UTF-16be"} {
		t.Run(enc, func(t *testing.T) {
			c, err := openRawFile(t)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			// A table of no type (no affinity, any storage class), and
			// one with the affinities of the schema's columns.
			for _, q := range []string{
				"PRAGMA query_only = 0", "PRAGMA encoding = '" + enc + "'",
				"CREATE TABLE anything (v)", "CREATE TABLE typed (i INTEGER, t TEXT, b BLOB, r REAL)",
			} {
				if err := c.exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, v := range memValues {
				for _, q := range []string{
					"INSERT INTO anything VALUES (" + v + ")",
					"INSERT INTO typed VALUES (" + strings.Repeat(v+", ", 3) + v + ")",
				} {
					if err := c.exec(q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			queries := []string{
				"SELECT v FROM anything ORDER BY rowid",
				"SELECT i, t, b, r FROM typed ORDER BY rowid",
				"SELECT " + strings.Join(memValues, ", "),
				// Zeroblobs bound as parameters reach the result row
				// as such (MEM_Zero), unlike zeroblob() in SQL.
				"SELECT ?, ?, x FROM (SELECT ? AS x)",
			}
			// Each reader alone, and each after another one: the calls
			// convert the Mem in place (a text read of an integer adds
			// its text).
			orders := [][]int{{0}, {1}, {2}, {0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {2, 0, 1}, {2, 2}}
			for _, q := range queries {
				for _, order := range orders {
					fast := readAll(t, c, q, order, func(i int) func(*rows, int) string { return columnReaders[i].fast })
					call := readAll(t, c, q, order, func(i int) func(*rows, int) string { return columnReaders[i].call })
					if len(fast) != len(call) {
						t.Fatalf("%s: %d values through the Mem, %d through the calls", q, len(fast), len(call))
					}
					for i := range fast {
						if fast[i] != call[i] {
							t.Errorf("%s, columnReaders %v: %s\n Mem   %s\n calls %s", q, order, valueAt(i, order), fast[i], call[i])
						}
					}
				}
			}
		})
	}
}

// readAll runs q on c and reads every column of every row with the
// columnReaders of order, one after the other, and the column count beyond the
// last column.
func readAll(t *testing.T, c *rawConn, q string, order []int, read func(int) func(*rows, int) string) []string {
	t.Helper()
	r, err := c.query(t.Context(), q, nil)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	for i, n := range []int32{0, 9, 5} {
		if int(i) < int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, r.stmt)) {
			if rc := sqlite3.Xsqlite3_bind_zeroblob(c.tls, r.stmt, int32(i+1), n); rc != sqlite3.SQLITE_OK {
				t.Fatalf("bind a zeroblob: %v", c.error(rc))
			}
		}
	}
	var out []string
	n := int(sqlite3.Xsqlite3_column_count(c.tls, r.stmt))
	for r.next() {
		for col := range n + 1 { // one past the last: no such column
			for _, i := range order {
				out = append(out, fmt.Sprintf("row of %d columns, column %d, %s: %s",
					n, col, columnReaders[i].name, read(i)(r, col)))
			}
		}
	}
	if err := r.close(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// openRawFile opens a connection of the engine to a new, empty file (the
// engine's connections do not create one).
func openRawFile(t *testing.T) (*rawConn, error) {
	name := filepath.Join(t.TempDir(), "m.db")
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		return nil, err
	}
	return openRaw("file:" + name)
}

func valueAt(i int, order []int) string {
	return fmt.Sprintf("value %d (of %d columnReaders a column)", i, len(order))
}

// TestColumnReadsAfterTheLastRow checks that the column methods, once the
// statement has no row (done), read what the calls read: nothing.
func TestColumnReadsAfterTheLastRow(t *testing.T) {
	c, err := openRawFile(t)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	r, err := c.query(t.Context(), "SELECT 1, 'a', x'01'", nil)
	if err != nil {
		t.Fatal(err)
	}
	for r.next() {
	}
	got := fmt.Sprintln(r.int64(0), showBytes(r.text(1)), showBytes(r.blob(2)))
	want := fmt.Sprintln(r.callInt64(0), showBytes(r.callText(1)), showBytes(r.callBlob(2)))
	if got != want || got != "0 nil nil\n" {
		t.Errorf("after the last row: got %s, calls %s", got, want)
	}
	if err := r.close(); err != nil {
		t.Fatal(err)
	}
}
