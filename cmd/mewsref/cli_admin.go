package main

// The enterprise's side of the CLI, through the admin API (the server runs
// with -admin-token; these commands take the same --admin-token).

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

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
			if *text == "" {
				return usagef("reply", "--text is required")
			}
			res, err := adminDo[admin.AdminMessageResult](c.ctx, c, "reply", (*admin.Client).AdminMessagesAdd, admin.AdminMessageAddParameters{MessageThreadId: id, Text: *text})
			if err != nil {
				return err
			}
			m := res.Message
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
			res, err := adminDo[admin.AdminMessageThreadResult](c.ctx, c, "resolve", (*admin.Client).AdminMessageThreadsResolve, admin.AdminResolveParameters{MessageThreadId: id, IsResolved: !*reopen})
			if err != nil {
				return err
			}
			t := res.MessageThread
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
	args:    "[--count N] [--integration NAME|ID] --admin-token T",
	example: "mewsref deliveries --count 5 --admin-token secret\n" +
		`mewsref deliveries --integration "Connector API Test Client 2" --admin-token secret`,
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		count := fs.Int("count", 20, "the newest `N` deliveries (at most 1000)")
		integration := fs.String("integration", "", "only the deliveries of this integration: its `name` or IntegrationId (the IntegrationId of webhookDeliveries/getAll)")
		return func([]string) error {
			if err := checkCount("deliveries", *count); err != nil {
				return err
			}
			p := admin.AdminDeliveriesParameters{Count: int32(*count)}
			if *integration != "" {
				id, err := c.integrationID(*integration)
				if err != nil {
					return err
				}
				p.IntegrationId = &id
			}
			res, err := adminDo[admin.AdminDeliveriesResult](c.ctx, c, "deliveries", (*admin.Client).AdminWebhookDeliveriesGetAll, p)
			if err != nil {
				return err
			}
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

var cmdReset = &command{
	name:    "reset",
	summary: "delete every thread, message and webhook delivery of the server (admin)",
	args:    "--yes --admin-token T",
	example: "mewsref reset --yes --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		yes := fs.Bool("yes", false, "confirm: the data cannot be recovered")
		return func([]string) error {
			if !*yes {
				return usagef("reset", "deletes all the server's data; add --yes to confirm")
			}
			res, err := adminDo[admin.AdminEmpty](c.ctx, c, "reset", (*admin.Client).AdminReset, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) { fmt.Fprintln(w, "reset: all data deleted") })
		}
	},
}

var cmdIntegrations = &command{
	name:    "integrations",
	summary: "list the integrations and the enterprises of their access tokens (admin)",
	args:    "--admin-token T",
	example: "mewsref integrations --admin-token secret",
	details: "The integrations the server knows (demo tokens and -config), with their IntegrationId\n" +
		"and the EnterpriseIds their access tokens cover (integrations/getAll); never the tokens.\n" +
		"The ids are what --integration and --enterprise of the other commands take.",
	conn: true,
	setup: func(c *cli, _ *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminIntegrationsResult](c.ctx, c, "integrations", (*admin.Client).AdminIntegrationsGetAll, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "INTEGRATION\tNAME\tENTERPRISES")
				for _, in := range res.Integrations {
					ids := make([]string, len(in.EnterpriseIds))
					for i, id := range in.EnterpriseIds {
						ids[i] = id.String()
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", in.IntegrationId, in.Name, strings.Join(ids, " "))
				}
			})
		}
	},
}

var cmdWebhooks = &command{
	name:    "webhooks",
	summary: "list the integrations and their webhook URLs (admin)",
	args:    "--admin-token T",
	example: "mewsref webhooks --admin-token secret --json",
	conn:    true,
	setup: func(c *cli, _ *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminWebhooksResult](c.ctx, c, "webhooks", (*admin.Client).AdminWebhooksGetAll, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "INTEGRATION\tNAME\tURLS")
				for _, h := range res.Webhooks {
					fmt.Fprintf(w, "%s\t%s\t%s\n", h.IntegrationId, deref(h.Name, ""), urlList(h.Urls))
				}
			})
		}
	},
}

var cmdWebhooksSet = &command{
	name:    "webhooks set",
	summary: "replace the webhook URLs of an integration, or turn them off (admin)",
	args:    "--integration ID|NAME (--webhook-url URL ... | --none) --admin-token T",
	example: "mewsref webhooks set --integration 0b7c2b1e-2d3a-4c55-9a1e-2b7c6d5e4f30 --webhook-url http://127.0.0.1:9000/mews --admin-token secret\n" +
		`mewsref webhooks set --integration "My integration" --none --admin-token secret`,
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		integration := fs.String("integration", "", "the integration: its IntegrationId, or its name in the token configuration (required)")
		var urls stringList
		fs.Var(&urls, "webhook-url", "a webhook `URL` (repeat for several)")
		none := fs.Bool("none", false, "no URLs: turn the integration's webhooks off")
		return func([]string) error {
			switch {
			case *integration == "":
				return usagef("webhooks set", "--integration is required")
			case len(urls) == 0 && !*none:
				return usagef("webhooks set", "give --webhook-url (one or more), or --none to turn the webhooks off")
			case len(urls) > 0 && *none:
				return usagef("webhooks set", "--webhook-url and --none exclude each other")
			}
			id, err := c.integrationID(*integration)
			if err != nil {
				return err
			}
			h, err := adminDo[admin.AdminWebhooks](c.ctx, c, "webhooks set", (*admin.Client).AdminWebhooksSet, admin.AdminWebhooks{IntegrationId: id, Urls: orEmpty([]string(urls))})
			if err != nil {
				return err
			}
			return c.print(h, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "INTEGRATION\tNAME\tURLS")
				fmt.Fprintf(w, "%s\t%s\t%s\n", h.IntegrationId, deref(h.Name, ""), urlList(h.Urls))
			})
		}
	},
}

// integrationID resolves an IntegrationId (the server answers for an
// unknown one) or an integration's name, as export and listen do.
func (c *cli) integrationID(s string) (uuid.UUID, error) {
	if id, err := uuid.Parse(s); err == nil {
		return id, nil
	}
	in, err := c.findIntegration(s)
	return in.IntegrationId, err
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
