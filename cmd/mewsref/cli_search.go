package main

// mewsref threads search: an enterprise's inbox from the command line,
// through the admin API's messageThreads/search (what the console's inbox
// shows): the threads of every integration, or of one, by latest activity.

import (
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mewsref/mewsref/gen/admin"
)

var cmdThreadsSearch = &command{
	name:    "threads search",
	summary: "search the threads of an enterprise, of every integration, by latest activity (admin)",
	args:    "--enterprise ID [--integration NAME|ID] [--text TEXT] [--resolved | --open] [--count N] [--cursor ID] [--all-pages] --admin-token T",
	example: "mewsref threads search --enterprise 3fa85f64-5717-4562-b3fc-2c963f66afa6 --text breakfast --open --admin-token secret\n" +
		`mewsref threads search --enterprise 3fa85f64-5717-4562-b3fc-2c963f66afa6 --integration "Connector API Test Client 2" --json --admin-token secret`,
	details: "Lists what the console's inbox lists (messageThreads/search): the enterprise's threads,\n" +
		"latest activity (UpdatedUtc) first, each with its newest message. --text matches a part of\n" +
		"the subject, the sender or any message's text; --resolved and --open keep one state only.\n" +
		"mewsref integrations lists the enterprises.",
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		enterprise := fs.String("enterprise", "", "the EnterpriseId (required)")
		integration := fs.String("integration", "", "only the threads of this integration: its `name` or IntegrationId (default: every integration)")
		text := fs.String("text", "", "only threads whose subject, sender or a message contains this `text` (ASCII letters in either case)")
		resolved := fs.Bool("resolved", false, "only resolved threads (IsResolved true)")
		open := fs.Bool("open", false, "only open threads (IsResolved false)")
		count := fs.Int("count", 20, "threads per page (at most 1000)")
		cursor := fs.String("cursor", "", "the `ID` of the last thread of the previous page")
		all := fs.Bool("all-pages", false, "follow the cursor to the last page")
		return func([]string) error {
			if err := checkCount("threads search", *count); err != nil {
				return err
			}
			id, err := requireID("threads search", "enterprise", *enterprise)
			if err != nil {
				return err
			}
			if *resolved && *open {
				return usagef("threads search", "--resolved and --open exclude each other")
			}
			cur, err := optionalCursor("threads search", *cursor)
			if err != nil {
				return err
			}
			p := admin.AdminThreadSearchParameters{EnterpriseId: id, Limitation: admin.Limitation{Count: int32(*count), Cursor: cur}}
			if *resolved || *open {
				p.IsResolved = resolved
			}
			if *text != "" {
				p.Text = text
			}
			if *integration != "" {
				in, err := c.integrationID(*integration)
				if err != nil {
					return err
				}
				p.IntegrationId = &in
			}
			// One page, or with --all-pages every page up to the empty one.
			var res admin.AdminThreadSearchPage
			for {
				page, err := adminDo[admin.AdminThreadSearchPage](c.ctx, c, "threads search", (*admin.Client).AdminMessageThreadsSearch, p)
				if err != nil {
					return err
				}
				res.MessageThreads = append(res.MessageThreads, page.MessageThreads...)
				res.Cursor = page.Cursor
				if !*all || len(page.MessageThreads) == 0 {
					break
				}
				p.Limitation.Cursor = page.Cursor
			}
			res.MessageThreads = orEmpty(res.MessageThreads)
			if *all {
				res.Cursor = nil
			}
			return c.print(res, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tUPDATED\tRESOLVED\tSENDER\tSUBJECT\tLAST MESSAGE")
				for _, s := range res.MessageThreads {
					t, last := s.MessageThread, "-"
					if m := s.LastMessage; m != nil {
						last = fmt.Sprintf("%s: %s", m.Sender.Discriminator, m.Text)
					}
					fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\t%s\n", t.Id, t.UpdatedUtc.Format(time.RFC3339), t.IsResolved,
						oneLine(t.OriginalSender), oneLine(t.Subject), oneLine(last))
				}
				nextPage(w, len(res.MessageThreads), *count, *all, res.Cursor)
			})
		}
	},
}
