// Command mewsref runs the reference server of the Mews Connector API
// messaging operations (mewsref serve, the default), and calls a running one
// from the command line (cli.go; mewsref help lists the commands).
//
// Every server flag has an environment-variable equivalent (MEWSREF_ plus
// the flag name in upper case with '-' as '_'); a flag given on the command
// line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/postgres"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

func main() {
	c := &cli{ctx: context.Background(), getenv: os.Getenv, environ: os.Environ(), out: os.Stdout, errOut: os.Stderr}
	os.Exit(exitCode(c.dispatch(os.Args[1:]), os.Stderr))
}

var cmdServe = &command{
	name:    "serve",
	summary: "run the server (the default when no command is given)",
	args:    "[flags]",
	example: "mewsref -db :memory: -admin-token secret\nmewsref serve -addr 127.0.0.1:0 -addr-file /tmp/mewsref.addr -log-level warn",
	details: `Every flag takes its default from an environment variable, MEWSREF_ plus
the flag's name in upper case with '-' as '_' (MEWSREF_DB for -db); a flag
given on the command line wins.`,
	env: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		o := serverFlags(fs)
		return func([]string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return serve(c.ctx, o, c.errOut)
		}
	},
}

type options struct {
	addr            string
	db              string
	config          string
	bodyLimit       int64
	requestTimeout  time.Duration
	shutdownTimeout time.Duration
	logLevel        string
	logFormat       string
	dev             bool
	rateLimit       *server.RateLimit   // nil: none
	faults          *server.FaultConfig // nil: none
	faultsSeed      uint64
	adminToken      string
	addrFile        string
	journal         int
	seed            string        // fixture file imported at start
	webhookProfile  string        // server.WebhookProfileFast or Mews
	webhookLag      time.Duration // hold-back of webhooks
	clock           *clock.State  // nil: the database's clock
}

// serverFlags defines the server's flags on fs, into the options returned.
func serverFlags(fs *flag.FlagSet) *options {
	o := &options{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (`host:port`; port 0 picks a free one)")
	fs.StringVar(&o.db, "db", "mewsref.db", "storage: a SQLite file path, :memory: for a throw-away store, or a postgres:// URL (replicas may share one database)")
	fs.StringVar(&o.config, "config", "", "YAML `file` of integrations and tokens (default: the public demo tokens)")
	fs.Int64Var(&o.bodyLimit, "body-limit", server.DefaultBodyLimit, "largest request body in `bytes`; larger ones are answered 413")
	fs.DurationVar(&o.requestTimeout, "request-timeout", server.DefaultRequestTimeout, "time budget of one request; past it the answer is 408")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may take to finish")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error (info logs one line per request)")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&o.dev, "dev", false, "development: show internal error details in 500 responses")
	fs.Var(rateLimitValue{&o.rateLimit}, "rate-limit", "limit the requests of each AccessToken like the real API: at most `requests/window` in a sliding window, e.g. 200/30s (empty: no limit)")
	fs.Var(faultsValue{&o.faults}, "faults", "fail or delay a share of requests on purpose, by `rules` such as 'messages/add:500=0.1,429=0.05;*:delay=200ms@0.2' (see README; empty: none)")
	fs.Uint64Var(&o.faultsSeed, "faults-seed", 0, "seed of -faults, to replay a run; 0: a random seed, logged at start")
	fs.StringVar(&o.addrFile, "addr-file", "", "once listening, write the address (host:port) to this `file`; removed at exit (for scripts that start the server on port 0)")
	fs.StringVar(&o.adminToken, "admin-token", "", "enable the admin API (/_admin/v1/..., openapi/admin.yaml) for this bearer `token`: reply as the enterprise, resolve, webhooks (empty: off)")
	fs.IntVar(&o.journal, "journal", server.DefaultJournal, "keep the newest `N` API requests in the request journal (admin API requests/*, mewsref requests); 0: no journal")
	fs.StringVar(&o.seed, "seed", "", "import this fixture `file` (JSON or YAML, the body of data/import; see examples/fixtures) at start; items stored already stay as they are")
	fs.StringVar(&o.webhookProfile, "webhook-profile", server.WebhookProfileFast, "webhook delivery: fast (retries within seconds) or mews (like the platform: 5 s to answer, 307/308 followed, retries after minutes, 5 attempts)")
	fs.DurationVar(&o.webhookLag, "webhook-lag", 0, "hold every webhook back this long after its message (the platform's may arrive minutes later)")
	fs.Var(clockValue{&o.clock}, "clock", "the server's clock: `real|frozen[=INSTANT]`, frozen at the current instant or at an RFC 3339 INSTANT; the admin API's clock/* moves it at run time, for every replica (empty: keep the database's clock, real on a new database)")
	return o
}

// validate refuses values that parse but make no sense.
func (o *options) validate() error {
	switch {
	case o.bodyLimit <= 0:
		return usagef("serve", "-body-limit must be a positive number of bytes, got %d", o.bodyLimit)
	case o.requestTimeout <= 0:
		return usagef("serve", "-request-timeout must be positive, got %s", o.requestTimeout)
	case o.journal < 0:
		return usagef("serve", "-journal must be a number of entries, 0 for none, got %d", o.journal)
	case o.shutdownTimeout < 0:
		return usagef("serve", "-shutdown-timeout must not be negative, got %s", o.shutdownTimeout)
	case o.webhookProfile != server.WebhookProfileFast && o.webhookProfile != server.WebhookProfileMews:
		return usagef("serve", "-webhook-profile must be %s or %s, got %q", server.WebhookProfileFast, server.WebhookProfileMews, o.webhookProfile)
	case o.webhookLag < 0:
		return usagef("serve", "-webhook-lag must not be negative, got %s", o.webhookLag)
	case o.logFormat != "text" && o.logFormat != "json":
		return usagef("serve", "-log-format must be text or json, got %q", o.logFormat)
	}
	if _, err := logLevel(o.logLevel); err != nil {
		return usagef("serve", "%v", err)
	}
	return nil
}

// logLevel parses -log-level as log/slog does (debug, info, warn, error,
// in any case, with an optional offset such as warn+2).
func logLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level must be debug, info, warn or error, got %q", s)
	}
	return level, nil
}

// parseFlags reads the server's flags, taking their defaults from the
// environment, as `mewsref serve` does.
func parseFlags(args []string, getenv func(string) string) (*options, error) {
	fs := flag.NewFlagSet("mewsref serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := serverFlags(fs)
	if err := applyEnv(fs, getenv, func(string) bool { return true }); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, o.validate()
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	level, err := logLevel(o.logLevel)
	if err != nil {
		return nil, err
	}
	ho := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("-log-format: %q is neither text nor json", o.logFormat)
}

// journalSize is server.Config.Journal for -journal n: 0 turns it off.
func journalSize(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// openStore chooses the storage engine from the DSN alone: a postgres:// or
// postgresql:// URL is a PostgreSQL database (several processes may share
// it), anything else a SQLite file. Each engine's nil pointer stays out of
// the interface on failure.
func openStore(ctx context.Context, dsn string) (mews.Store, error) {
	if postgres.IsDSN(dsn) {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// newClock is the clock of -clock, nil without it (the server then follows
// the clock stored in the database).
func newClock(o *options, log *slog.Logger) *clock.Clock {
	if o.clock == nil {
		return nil
	}
	log.Info("clock set by -clock for every server on the database", "clock", o.clock.String())
	return clock.New(nil, *o.clock)
}

// serve runs the server until ctx ends or SIGINT/SIGTERM. Every check
// that can fail runs before it listens, so that a port that answers is a
// server that works; a port in use leaves no new database file behind.
func serve(ctx context.Context, o *options, stderr io.Writer) error {
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	var tokens *server.TokenConfig
	if o.config != "" {
		if tokens, err = server.LoadTokenConfig(o.config); err != nil {
			return err
		}
		for _, w := range tokens.Warnings() {
			log.Warn(o.config + ": " + w)
		}
	}
	var seed *admin.DataImportParameters
	if o.seed != "" {
		if seed, err = server.LoadFixture(o.seed); err != nil {
			return err
		}
	}
	db := redactDSN(o.db)
	created := newSQLiteFile(o.db)
	store, err := openStore(ctx, o.db)
	if err != nil {
		return fmt.Errorf("open storage %s: %s", db, maskSecrets(err.Error(), dsnSecrets(o.db)))
	}
	if s, ok := store.(interface{ SetLogger(*slog.Logger) }); ok {
		s.SetLogger(log) // a failed sync of SQLite's log is logged here
	}
	closeStore := sync.OnceValue(store.Close)
	defer closeStore()

	rehearsal(o, log)
	stopping := make(chan struct{}) // closed when the shutdown begins: ends the console's event streams
	handler, closeServer, err := server.New(server.Config{
		Store: store, Tokens: tokens, BodyLimit: o.bodyLimit, RequestTimeout: o.requestTimeout,
		Logger: log, ExposeInternalErrors: o.dev, RateLimit: o.rateLimit, Faults: o.faults,
		AdminToken: o.adminToken, Stopping: stopping, Journal: journalSize(o.journal), Seed: seed, Clock: newClock(o, log),
		Webhooks: server.WebhookOptions{Profile: o.webhookProfile, Lag: o.webhookLag},
	})
	if err != nil {
		return err
	}
	closeHandler := sync.OnceValue(closeServer)
	defer closeHandler()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		// A start that fails leaves nothing behind: not the file it created.
		err = fmt.Errorf("listen on %s: %w", o.addr, err)
		if created {
			err = errors.Join(err, closeHandler(), closeStore(), removeSQLiteFile(o.db))
		}
		return err
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if o.addrFile != "" {
		if err := writeAddrFile(o.addrFile, addr); err != nil {
			return err
		}
		defer os.Remove(o.addrFile)
	}

	srv := newHTTPServer(handler, o.requestTimeout, log)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// Whatever -log-level says: with -addr host:0 this line is how a
	// person (or a script without -addr-file) learns the port.
	always(ctx, log, "listening", "addr", addr, "db", db, "config", o.config,
		"url", "http://"+addr+"/api/connector/v1/", "admin", o.adminToken != "")

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop()
	close(stopping)
	log.Info("shutting down: finishing in-flight requests", "timeout", o.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Cut the requests that are still running before the store closes
		// under them; their clients see the connection close.
		log.Error("shutdown timeout: closing the connections of requests still in flight", "timeout", o.shutdownTimeout)
		return errors.Join(fmt.Errorf("shutdown: %w", err), srv.Close())
	}
	log.Info("stopped")
	return nil
}

// newSQLiteFile reports whether dsn is a SQLite file that does not exist
// yet, which opening it will create.
func newSQLiteFile(dsn string) bool {
	if postgres.IsDSN(dsn) || dsn == sqlite.Memory {
		return false
	}
	_, err := os.Stat(dsn)
	return errors.Is(err, fs.ErrNotExist)
}

// removeSQLiteFile removes a database file and its WAL companions.
func removeSQLiteFile(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// always logs at info level even when the logger's level is higher.
func always(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.Add(args...)
	_ = log.Handler().Handle(ctx, r)
}

// writeAddrFile writes the address the server listens on to path, whole
// or not at all (a reader polling for the file never sees half of it).
func writeAddrFile(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return fmt.Errorf("-addr-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("-addr-file: %w", err), os.Remove(tmp))
	}
	return nil
}
