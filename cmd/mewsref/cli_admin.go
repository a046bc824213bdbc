package main

// The enterprise's side of the CLI, through the admin API (the server runs
// with -admin-token; these commands take the same --admin-token).

import (
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mewsref/mewsref/gen/admin"
)

var cmdReply = &command{
	name:    "reply",
	summary: "reply in a thread as the enterprise (admin)",
	args:    "--thread ID --text TEXT --admin-token T",
	example: `mewsref reply --thread 3fa85f64-5717-4562-b3fc-2c963f66afa6 --text "The night desk is open." --admin-token secret`,
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		thread := fs.String("thread", "", "MessageThreadId (required)")
		text := fs.String("text", "", "the reply's Text (required)")
		return func([]string) error {
			id, err := requireID("reply", "thread", *thread)
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
	},
}

var cmdResolve = &command{
	name:    "resolve",
	summary: "mark a thread resolved, or reopen it, as the enterprise (admin)",
	args:    "--thread ID [--reopen] --admin-token T",
	example: "mewsref resolve --thread 3fa85f64-5717-4562-b3fc-2c963f66afa6 --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		thread := fs.String("thread", "", "MessageThreadId (required)")
		reopen := fs.Bool("reopen", false, "reopen instead of resolving")
		return func([]string) error {
			id, err := requireID("resolve", "thread", *thread)
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
	},
}

var cmdDeliveries = &command{
	name:    "deliveries",
	summary: "list the newest webhook deliveries and their state (admin)",
	args:    "[--count N] --admin-token T",
	example: "mewsref deliveries --count 5 --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		count := fs.Int("count", 20, "the newest `N` deliveries")
		return func([]string) error {
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
	},
}
