package main

// Fixtures, snapshots and redelivery through the admin API: mewsref import,
// mewsref export, mewsref deliveries redeliver.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/server"
)

// positionals collects the positional arguments of a command whose flags
// may also come after them (mewsref import FILE --admin-token T): the flag
// package stops at the first one.
func positionals(cmd string, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		pos = append(pos, args[0])
		if err := fs.Parse(args[1:]); err != nil {
			return nil, &usageError{cmd: cmd, err: err}
		}
		args = fs.Args()
	}
	return pos, nil
}

var cmdImport = &command{
	name:    "import",
	summary: "import threads and messages from a fixture or snapshot file (admin)",
	args:    "FILE [--webhooks] --admin-token T",
	example: "mewsref import examples/fixtures/long-history.yaml --admin-token secret\nmewsref import snapshot.json --admin-token secret",
	details: `FILE is JSON or YAML in the shape of the body of data/import
(openapi/admin.yaml): what mewsref export writes, or a captured
messageThreads/getAll and messages/getAll answer with IntegrationId and
EnterpriseId beside it. All or nothing; items whose Id is stored already stay
as they are, so importing a file twice stores it once.`,
	conn:       true,
	positional: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		webhooks := fs.Bool("webhooks", false, "queue MessageAdded webhooks for the imported messages (default: none)")
		return func(args []string) error {
			files, err := positionals("import", fs, args)
			if err != nil {
				return err
			}
			if len(files) != 1 {
				return usagef("import", "want one FILE, got %d arguments", len(files))
			}
			p, err := server.LoadFixture(files[0])
			if err != nil {
				return err
			}
			if *webhooks {
				p.SendWebhooks = webhooks
			}
			r, err := adminDo[admin.DataImportResult](c.ctx, c, "import", (*admin.Client).AdminDataImport, *p)
			if err != nil {
				return err
			}
			return c.print(r, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "\tADDED\tALREADY STORED")
				fmt.Fprintf(w, "threads\t%d\t%d\n", r.AddedMessageThreads, r.ExistingMessageThreads)
				fmt.Fprintf(w, "messages\t%d\t%d\n", r.AddedMessages, r.ExistingMessages)
			})
		}
	},
}

var cmdExport = &command{
	name:    "export",
	summary: "write the stored threads and messages as a snapshot that import reads (admin)",
	args:    "[--integration NAME|ID] [--enterprise ID] [--out FILE] --admin-token T",
	example: "mewsref export --admin-token secret --out snapshot.json\nmewsref export --integration 3b62b101-9edf-5357-8b03-725a7169ca3e --enterprise 3fa85f64-5717-4562-b3fc-2c963f66afa6 --admin-token secret",
	details: `The snapshot is JSON, the body of data/export: threads and messages newest
first, instants with their fraction of a second. mewsref import (or -seed)
reads it back; after an export, a reset and an import every getAll answers
as before.`,
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		integration := fs.String("integration", "", "only the threads of this integration: its `name` (as in webhooks/getAll) or IntegrationId")
		enterprise := fs.String("enterprise", "", "only the threads of this EnterpriseId")
		out := fs.String("out", "", "write the snapshot to this `file` (default: standard output)")
		return func([]string) error {
			if _, err := c.admin(); err != nil {
				return err // the missing token before the flags' errors
			}
			var p admin.DataExportParameters
			if *integration != "" {
				in, err := c.findIntegration(*integration)
				if err != nil {
					return err
				}
				p.IntegrationId = &in.IntegrationId
			}
			if *enterprise != "" {
				id, err := requireID("export", "enterprise", *enterprise)
				if err != nil {
					return err
				}
				p.EnterpriseId = &id
			}
			res, err := adminDo[admin.DataExport](c.ctx, c, "export", (*admin.Client).AdminDataExport, p)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if *out != "" {
				return os.WriteFile(*out, b, 0o644)
			}
			_, err = c.out.Write(b)
			return err
		}
	},
}

// findIntegration looks an integration up by IntegrationId or by name
// (case-insensitive), among those the server lists.
func (c *cli) findIntegration(nameOrID string) (admin.AdminWebhooks, error) {
	res, err := adminDo[admin.AdminWebhooksResult](c.ctx, c, "list integrations", (*admin.Client).AdminWebhooksGetAll, admin.AdminEmpty{})
	if err != nil {
		return admin.AdminWebhooks{}, err
	}
	id, idErr := uuid.Parse(nameOrID)
	var names []string
	for _, in := range res.Webhooks {
		if (idErr == nil && in.IntegrationId == id) || (in.Name != nil && strings.EqualFold(*in.Name, nameOrID)) {
			return in, nil
		}
		if in.Name != nil {
			names = append(names, strconv.Quote(*in.Name))
		}
	}
	return admin.AdminWebhooks{}, fmt.Errorf("no integration %q on the server; it has %s", nameOrID, strings.Join(names, ", "))
}

var cmdRedeliver = &command{
	name:    "deliveries redeliver",
	summary: "send a webhook delivery again, as a new delivery (admin)",
	args:    "ID [--to URL] --admin-token T",
	example: "mewsref deliveries redeliver 42 --admin-token secret\nmewsref deliveries redeliver 42 --to http://127.0.0.1:4000/hooks --admin-token secret",
	details: `ID is the delivery's number (mewsref deliveries). The new delivery carries
the same payload, is due at once and has retries of its own; the original
stays as it was.`,
	conn:       true,
	positional: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		to := fs.String("to", "", "send it to this `URL` instead of the delivery's own (the Url of webhookDeliveries/redeliver)")
		return func(args []string) error {
			ids, err := positionals("deliveries redeliver", fs, args)
			if err != nil {
				return err
			}
			if len(ids) != 1 {
				return usagef("deliveries redeliver", "want one delivery ID, got %d arguments", len(ids))
			}
			id, err := strconv.ParseInt(ids[0], 10, 64)
			if err != nil || id < 1 {
				return usagef("deliveries redeliver", "%q is not a delivery ID (a number, see mewsref deliveries)", ids[0])
			}
			p := admin.AdminRedeliverParameters{Id: id}
			if *to != "" {
				p.Url = to
			}
			res, err := adminDo[admin.AdminDeliveryResult](c.ctx, c, "redeliver", (*admin.Client).AdminWebhookDeliveriesRedeliver, p)
			if err != nil {
				return err
			}
			d := res.Delivery
			return c.print(res, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tSTATUS\tURL\tEVENTS")
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\n", d.Id, d.Status, d.Url, len(d.Payload.Events))
			})
		}
	},
}
