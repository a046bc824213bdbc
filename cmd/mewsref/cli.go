package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/server"
)

// The CLI: subcommands that call a running server the way a person trying
// it would, through the client package (the integration's side) and the
// generated admin client (the enterprise's side). Output is a table for
// people, or JSON with --json for scripts.

// commands maps each subcommand (one or two words) to its function.
var commands = map[string]func(*cli, []string) error{
	"thread add":   (*cli).threadAdd,
	"message post": (*cli).messagePost,
	"threads":      (*cli).threads,
	"messages":     (*cli).messages,
	"reply":        (*cli).reply,
	"resolve":      (*cli).resolve,
	"deliveries":   (*cli).deliveries,
}

const cliUsage = `Usage:
  mewsref [serve] [server flags]       run the server (mewsref -h for its flags)
  mewsref thread add --subject S --sender NAME
  mewsref message post --thread ID --text TEXT
  mewsref threads [--count N] [--cursor ID] [--all-pages] [--days N]
  mewsref messages --thread ID [--count N] [--cursor ID] [--all-pages]
  mewsref reply --thread ID --text TEXT        (admin: as the enterprise)
  mewsref resolve --thread ID [--reopen]       (admin)
  mewsref deliveries [--count N]               (admin: webhook deliveries)

Common flags (environment variable in brackets):
  --url URL             server address [MEWSREF_URL] (default http://127.0.0.1:8080)
  --client-token T      [MEWSREF_CLIENT_TOKEN] (default: the first demo integration)
  --access-token T      [MEWSREF_ACCESS_TOKEN] (default: its gross-pricing enterprise)
  --admin-token T       [MEWSREF_ADMIN_TOKEN] for reply, resolve and deliveries
  --json                JSON output for scripts
`

// findCommand returns the subcommand that args start with and the rest.
func findCommand(args []string) (func(*cli, []string) error, []string, bool) {
	if len(args) >= 2 {
		if f, ok := commands[args[0]+" "+args[1]]; ok {
			return f, args[2:], true
		}
	}
	if len(args) >= 1 {
		if f, ok := commands[args[0]]; ok {
			return f, args[1:], true
		}
	}
	return nil, nil, false
}

type cli struct {
	ctx    context.Context
	getenv func(string) string
	out    io.Writer

	url, clientToken, accessToken, adminToken string
	json                                      bool
}

// flags returns a flag set with the common flags, defaults from the
// environment.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("mewsref "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := func(k, def string) string {
		if v := c.getenv(k); v != "" {
			return v
		}
		return def
	}
	demo := server.DemoIntegrations()[0]
	fs.StringVar(&c.url, "url", env("MEWSREF_URL", "http://127.0.0.1:8080"), "server address")
	fs.StringVar(&c.clientToken, "client-token", env("MEWSREF_CLIENT_TOKEN", demo.ClientToken), "ClientToken")
	fs.StringVar(&c.accessToken, "access-token", env("MEWSREF_ACCESS_TOKEN", demo.AccessTokens[0].Token), "AccessToken")
	fs.StringVar(&c.adminToken, "admin-token", env("MEWSREF_ADMIN_TOKEN", ""), "admin token")
	fs.BoolVar(&c.json, "json", false, "JSON output")
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errors.New("see mewsref help")
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

func (c *cli) client() (*client.Client, error) {
	return client.New(c.url, client.Credentials{ClientToken: c.clientToken, AccessToken: c.accessToken, Client: "mewsref CLI"})
}

func (c *cli) admin() (*admin.ClientWithResponses, error) {
	if c.adminToken == "" {
		return nil, errors.New("this command needs --admin-token (or MEWSREF_ADMIN_TOKEN), the token the server was started with")
	}
	return admin.NewClientWithResponses(c.url, admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+c.adminToken)
		return nil
	}))
}

// adminError is the error of an admin call answered without its 200 body:
// the server's Message.
func adminError(op string, rsp *http.Response, raw []byte) error {
	var e struct{ Message string }
	_ = json.Unmarshal(raw, &e)
	return fmt.Errorf("%s: %s: %s", op, rsp.Status, e.Message)
}

func (c *cli) print(v any, table func(w *tabwriter.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

func requireID(name, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return id, fmt.Errorf("--%s: %q is not a UUID", name, s)
	}
	return id, nil
}

func optionalCursor(s string) (*uuid.UUID, error) {
	if s == "" {
		return nil, nil
	}
	id, err := requireID("cursor", s)
	return &id, err
}

func (c *cli) threadAdd(args []string) error {
	fs := c.flags("thread add")
	subject := fs.String("subject", "", "Subject (required)")
	sender := fs.String("sender", "", "OriginalSender: the customer (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *subject == "" || *sender == "" {
		return errors.New("thread add needs --subject and --sender")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	t, err := cl.AddThread(c.ctx, client.AddThreadRequest{OriginalSender: *sender, Subject: *subject})
	if err != nil {
		return err
	}
	return c.print(t, func(w *tabwriter.Writer) { threadTable(w, []gen.MessageThread{t}) })
}

func (c *cli) messagePost(args []string) error {
	fs := c.flags("message post")
	thread := fs.String("thread", "", "MessageThreadId (required)")
	text := fs.String("text", "", "Text (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := requireID("thread", *thread)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	added, err := cl.AddMessages(c.ctx, []gen.MessageParameters{{MessageThreadId: id, Text: *text}})
	if err != nil {
		return err
	}
	m := added[0].Message
	return c.print(m, func(w *tabwriter.Writer) { messageTable(w, []gen.Message{m}) })
}

func (c *cli) threads(args []string) error {
	fs := c.flags("threads")
	count := fs.Int("count", 20, "threads per page")
	cursor := fs.String("cursor", "", "Id of the last thread of the previous page")
	all := fs.Bool("all-pages", false, "follow the cursor to the last page")
	days := fs.Int("days", 90, "threads updated in the last N days (at most 3 months)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cur, err := optionalCursor(*cursor)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	end := time.Now().UTC().Add(time.Minute)
	q := client.ThreadsQuery{Count: *count, Cursor: cur,
		UpdatedUtc: &gen.TimeInterval{StartUtc: end.AddDate(0, 0, -*days), EndUtc: end}}
	var page client.ThreadsPage
	page.Threads, page.Cursor, err = pageOrAll(*all, cl.AllThreads(c.ctx, q), func() ([]gen.MessageThread, *uuid.UUID, error) {
		p, err := cl.GetThreads(c.ctx, q)
		return p.Threads, p.Cursor, err
	})
	if err != nil {
		return err
	}
	return c.print(gen.MessageThreadResult{MessageThreads: orEmpty(page.Threads), Cursor: page.Cursor}, func(w *tabwriter.Writer) {
		threadTable(w, page.Threads)
		nextPage(w, len(page.Threads), *count, *all, page.Cursor)
	})
}

func (c *cli) messages(args []string) error {
	fs := c.flags("messages")
	thread := fs.String("thread", "", "MessageThreadId (required)")
	count := fs.Int("count", 20, "messages per page")
	cursor := fs.String("cursor", "", "Id of the last message of the previous page")
	all := fs.Bool("all-pages", false, "follow the cursor to the last page")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := requireID("thread", *thread)
	if err != nil {
		return err
	}
	cur, err := optionalCursor(*cursor)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	q := client.MessagesQuery{MessageThreadIds: []uuid.UUID{id}, Count: *count, Cursor: cur}
	var page client.MessagesPage
	page.Messages, page.Cursor, err = pageOrAll(*all, cl.AllMessages(c.ctx, q), func() ([]gen.Message, *uuid.UUID, error) {
		p, err := cl.GetMessages(c.ctx, q)
		return p.Messages, p.Cursor, err
	})
	if err != nil {
		return err
	}
	return c.print(gen.MessageResult{Messages: orEmpty(page.Messages), Cursor: page.Cursor}, func(w *tabwriter.Writer) {
		messageTable(w, page.Messages)
		nextPage(w, len(page.Messages), *count, *all, page.Cursor)
	})
}

func (c *cli) reply(args []string) error {
	fs := c.flags("reply")
	thread := fs.String("thread", "", "MessageThreadId (required)")
	text := fs.String("text", "", "Text (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := requireID("thread", *thread)
	if err != nil {
		return err
	}
	ac, err := c.admin()
	if err != nil {
		return err
	}
	rsp, err := ac.AdminMessagesAddWithResponse(c.ctx, admin.AdminMessageAddParameters{MessageThreadId: id, Text: *text})
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if rsp.JSON200 == nil {
		return adminError("reply", rsp.HTTPResponse, rsp.Body)
	}
	m := rsp.JSON200.Message
	return c.print(m, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tCREATED\tSENDER\tTEXT")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.Id, m.CreatedUtc.Format(time.RFC3339), m.Sender.Discriminator, oneLine(m.Text))
	})
}

func (c *cli) resolve(args []string) error {
	fs := c.flags("resolve")
	thread := fs.String("thread", "", "MessageThreadId (required)")
	reopen := fs.Bool("reopen", false, "reopen instead of resolving")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := requireID("thread", *thread)
	if err != nil {
		return err
	}
	ac, err := c.admin()
	if err != nil {
		return err
	}
	rsp, err := ac.AdminMessageThreadsResolveWithResponse(c.ctx, admin.AdminResolveParameters{MessageThreadId: id, IsResolved: !*reopen})
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	if rsp.JSON200 == nil {
		return adminError("resolve", rsp.HTTPResponse, rsp.Body)
	}
	t := rsp.JSON200.MessageThread
	return c.print(t, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tRESOLVED\tSUBJECT")
		fmt.Fprintf(w, "%s\t%t\t%s\n", t.Id, t.IsResolved, oneLine(t.Subject))
	})
}

func (c *cli) deliveries(args []string) error {
	fs := c.flags("deliveries")
	count := fs.Int("count", 20, "the newest N deliveries")
	if err := parse(fs, args); err != nil {
		return err
	}
	ac, err := c.admin()
	if err != nil {
		return err
	}
	rsp, err := ac.AdminWebhookDeliveriesGetAllWithResponse(c.ctx, admin.AdminDeliveriesParameters{Count: int32(*count)})
	if err != nil {
		return fmt.Errorf("deliveries: %w", err)
	}
	if rsp.JSON200 == nil {
		return adminError("deliveries", rsp.HTTPResponse, rsp.Body)
	}
	res := rsp.JSON200
	return c.print(res, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tSTATUS\tATTEMPTS\tLAST STATUS\tURL\tEVENTS\tLAST ERROR")
		for _, d := range res.Deliveries {
			code := "-"
			if d.LastStatusCode != nil {
				code = fmt.Sprint(*d.LastStatusCode)
			}
			lastErr := ""
			if d.LastError != nil {
				lastErr = *d.LastError
			}
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%d\t%s\n", d.Id, d.Status, d.Attempts, code, d.Url, len(d.Payload.Events), oneLine(lastErr))
		}
	})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}

func threadTable(w io.Writer, ts []gen.MessageThread) {
	fmt.Fprintln(w, "ID\tUPDATED\tRESOLVED\tSENDER\tSUBJECT")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\n", t.Id, t.UpdatedUtc.Format(time.RFC3339), t.IsResolved, oneLine(t.OriginalSender), oneLine(t.Subject))
	}
}

func messageTable(w io.Writer, ms []gen.Message) {
	fmt.Fprintln(w, "ID\tCREATED\tSENDER\tTEXT")
	for _, m := range ms {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.Id, m.CreatedUtc.Format(time.RFC3339), m.Sender.Discriminator, oneLine(m.Text))
	}
}

func nextPage(w io.Writer, n, count int, all bool, cursor *uuid.UUID) {
	if !all && n == count && cursor != nil {
		fmt.Fprintf(w, "\nmore: add --cursor %s (or --all-pages)\n", cursor)
	}
}

// pageOrAll returns one page (items and cursor) from one, or with all the
// items of every page from seq, and no cursor.
func pageOrAll[T any](all bool, seq iter.Seq2[T, error], one func() ([]T, *uuid.UUID, error)) ([]T, *uuid.UUID, error) {
	if !all {
		return one()
	}
	var items []T
	for item, err := range seq {
		if err != nil {
			return nil, nil, err
		}
		items = append(items, item)
	}
	return items, nil, nil
}
