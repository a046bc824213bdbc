package main

// The integration's side of the CLI: threads and messages through the
// client package, with the integration's tokens.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
)

var cmdThreadAdd = &command{
	name:    "thread add",
	summary: "open a message thread as the integration (messageThreads/add)",
	args:    "--subject S --sender NAME",
	example: `mewsref thread add --subject "Late check-in" --sender "John Doe"`,
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		subject := fs.String("subject", "", "the thread's Subject (required)")
		sender := fs.String("sender", "", "OriginalSender: the customer (required)")
		return func([]string) error {
			if *subject == "" || *sender == "" {
				return usagef("thread add", "needs --subject and --sender")
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
	},
}

var cmdMessagePost = &command{
	name:    "message post",
	summary: "add a message to a thread as the integration (messages/add)",
	args:    "--thread ID --text TEXT",
	example: `mewsref message post --thread 3fa85f64-5717-4562-b3fc-2c963f66afa6 --text "Arriving at 23:00"`,
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		thread := fs.String("thread", "", "MessageThreadId (required)")
		text := fs.String("text", "", "the message's Text (required)")
		return func([]string) error {
			id, err := requireID("message post", "thread", *thread)
			if err != nil {
				return err
			}
			if *text == "" {
				return usagef("message post", "--text is required")
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
	},
}

var cmdThreads = &command{
	name:    "threads",
	summary: "list the enterprise's message threads updated lately, newest first (messageThreads/getAll)",
	args:    "[--count N] [--cursor ID] [--all-pages] [--days N]",
	example: "mewsref threads --count 10\nmewsref threads --all-pages --json",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		count := fs.Int("count", 20, "threads per page")
		cursor := fs.String("cursor", "", "the `ID` of the last thread of the previous page")
		all := fs.Bool("all-pages", false, "follow the cursor to the last page")
		days := fs.Int("days", 90, "threads updated in the last `N` days (at most 3 months), on the server's clock with --admin-token, else this machine's")
		return func([]string) error {
			cur, err := optionalCursor("threads", *cursor)
			if err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			end := c.now().UTC().Add(time.Minute)
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
	},
}

var cmdMessages = &command{
	name:    "messages",
	summary: "list the messages of a thread, newest first (messages/getAll)",
	args:    "--thread ID [--count N] [--cursor ID] [--all-pages]",
	example: "mewsref messages --thread 3fa85f64-5717-4562-b3fc-2c963f66afa6 --all-pages",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		thread := fs.String("thread", "", "MessageThreadId (required)")
		count := fs.Int("count", 20, "messages per page")
		cursor := fs.String("cursor", "", "the `ID` of the last message of the previous page")
		all := fs.Bool("all-pages", false, "follow the cursor to the last page")
		return func([]string) error {
			id, err := requireID("messages", "thread", *thread)
			if err != nil {
				return err
			}
			cur, err := optionalCursor("messages", *cursor)
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
	},
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

// nextPage prints how to get the next page, only after a full page: a
// shorter one is the last.
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

var errNoID = errors.New("is required")

func requireID(cmd, name, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.UUID{}, &usageError{cmd: cmd, err: fmt.Errorf("--%s %w", name, errNoID)}
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return id, usagef(cmd, "--%s: %q is not a UUID", name, s)
	}
	return id, nil
}

func optionalCursor(cmd, s string) (*uuid.UUID, error) {
	if s == "" {
		return nil, nil
	}
	id, err := requireID(cmd, "cursor", s)
	return &id, err
}
