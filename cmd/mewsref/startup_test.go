package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/pgtest"
	"github.com/mewsref/mewsref/internal/testwait"
)

// startFails runs the binary with args, expecting it to exit at once with
// one line naming want; it returns that output.
func startFails(t *testing.T, bin string, want string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(testwait.Deadline(t))):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("mewsref %v did not exit:\n%s", args, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err == nil || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("mewsref %v: %v, want one line with %q, got:\n%s", args, err, want, out)
	}
	return string(out)
}

func TestStartupFailsFastNamingCauseAndPlace(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()

	t.Run("missing directory", func(t *testing.T) {
		db := filepath.Join(dir, "missing", "data.db")
		startFails(t, bin, "the directory "+filepath.Dir(db)+" of the database file "+db+" does not exist", "-addr", "127.0.0.1:0", "-db", db)
	})
	t.Run("port in use leaves no database file", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		db := filepath.Join(dir, "never.db")
		startFails(t, bin, "listen on "+ln.Addr().String(), "-addr", ln.Addr().String(), "-db", db)
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("a failed start left %s behind: %v", db, err)
		}
	})
	t.Run("PostgreSQL server that never answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		startFails(t, bin, "connect to "+ln.Addr().String()+": no answer within 1s",
			"-addr", "127.0.0.1:0", "-db", "postgres://u:Pw1secret@"+ln.Addr().String()+"/db?sslmode=disable&connect_timeout=1")
	})
}

// With -log-level warn the listening line is still printed, -addr-file gets
// the address, and the DSN's password parameter is masked in the line.
func TestListeningAddressRegardlessOfLogLevel(t *testing.T) {
	bin := binary(t)
	addrFile := filepath.Join(t.TempDir(), "addr")
	db := filepath.Join(t.TempDir(), "data.db")
	if dsn := os.Getenv(pgtest.EnvDSN); dsn != "" {
		// Trust authentication ignores the password; it must not show.
		var err error
		if db, err = pgtest.WithParam(pgtest.DSN(t), "password", "Pw3secret"); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t, bin, "-log-level", "warn", "-addr-file", addrFile, "-db", db)
	got, err := os.ReadFile(addrFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != p.addr {
		t.Errorf("-addr-file has %q, the server listens on %s", got, p.addr)
	}
	if status, body := post(t, p.addr, "messageThreads/add", `{`+demoCreds+`,"OriginalSender":"John Doe","Subject":"s"}`); status != 200 {
		t.Errorf("add: %d %v", status, body)
	}
	p.stop(t)
	logs := p.logs.String()
	if strings.Contains(logs, "Pw3secret") || strings.Contains(logs, "msg=request") {
		t.Errorf("a secret, or an info line, in the logs:\n%s", logs)
	}
	if strings.HasPrefix(db, "postgres") && !strings.Contains(logs, "password=xxxxx") {
		t.Errorf("the listening line does not show the masked DSN:\n%s", logs)
	}
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Errorf("-addr-file left behind after the stop: %v", err)
	}
}
