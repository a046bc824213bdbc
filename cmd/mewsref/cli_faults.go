package main

// Targeted fault rules through the admin API (faults/add, faults/getAll,
// faults/clear): "the next N requests of an operation fail".

import (
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/mewsref/mewsref/gen/admin"
)

var cmdFaultsAdd = &command{
	name:    "faults add",
	summary: "make the next requests of an operation fail or wait (admin)",
	args:    "--operation OP [--count N] [--status CODE] [--retry-after-seconds S] [--delay-ms MS] [--message TEXT] [--only-access-token T] --admin-token T",
	example: "mewsref faults add --operation messages/add --status 429 --retry-after-seconds 30 --admin-token secret\n" +
		"mewsref faults add --operation messageThreads/getAll --count 3 --delay-ms 2000 --admin-token secret",
	details: "The next --count requests of the operation (messageThreads/getAll, messageThreads/add,\n" +
		"messages/getAll or messages/add) answer --status (400, 401, 403, 408, 429, 500 or 503)\n" +
		"with the Mews error body, or wait --delay-ms and are then served. A faulted request\n" +
		"stores nothing. Rules strike in the order added, each exactly --count times, across\n" +
		"all replicas on PostgreSQL; a rule wins over -faults and the rate limit.",
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		op := fs.String("operation", "", "the `operation` to strike, e.g. messages/add (required)")
		count := fs.Int("count", 1, "how many requests the rule strikes")
		status := fs.Int("status", 0, "the HTTP `status` to answer (0: none, a delay only)")
		retry := fs.Int("retry-after-seconds", 0, "Retry-After of a 429, in `seconds` (0: 1)")
		delay := fs.Int("delay-ms", 0, "hold each request this many `milliseconds` first")
		message := fs.String("message", "", "the Message of the error body (empty: a default naming the rule)")
		only := fs.String("only-access-token", "", "strike only the requests with this AccessToken (empty: every caller)")
		return func([]string) error {
			if *op == "" {
				return usagef("faults add", "--operation is required")
			}
			p := admin.AdminFaultRuleParameters{Operation: admin.AdminFaultOperation(*op)}
			n := int32(*count)
			p.Count = &n
			if *status != 0 {
				s := admin.AdminFaultRuleParametersStatus(*status)
				p.Status = &s
			}
			if *retry != 0 {
				r := int32(*retry)
				p.RetryAfterSeconds = &r
			}
			if *delay != 0 {
				d := int32(*delay)
				p.DelayMs = &d
			}
			if *message != "" {
				p.Message = message
			}
			if *only != "" {
				p.AccessToken = only
			}
			res, err := adminDo[admin.AdminFaultRule](c.ctx, c, "faults add", (*admin.Client).AdminFaultsAdd, p)
			if err != nil {
				return err
			}
			r := *res
			return c.print(r, func(w *tabwriter.Writer) { faultRulesTable(w, []admin.AdminFaultRule{r}) })
		}
	},
}

var cmdFaultsGetAll = &command{
	name:    "faults getAll",
	summary: "list the fault rules and the strikes they have left (admin)",
	args:    "--admin-token T",
	example: "mewsref faults getAll --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminFaultRulesResult](c.ctx, c, "faults getAll", (*admin.Client).AdminFaultsGetAll, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) { faultRulesTable(w, res.FaultRules) })
		}
	},
}

var cmdFaultsClear = &command{
	name:    "faults clear",
	summary: "delete every fault rule (admin)",
	args:    "--admin-token T",
	example: "mewsref faults clear --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminEmpty](c.ctx, c, "faults clear", (*admin.Client).AdminFaultsClear, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) { fmt.Fprintln(w, "No fault rule is left.") })
		}
	},
}

func faultRulesTable(w *tabwriter.Writer, rules []admin.AdminFaultRule) {
	fmt.Fprintln(w, "ID\tOPERATION\tSTATUS\tDELAY\tREMAINING\tACCESS TOKEN\tMESSAGE")
	for _, r := range rules {
		status, delay, token, msg := "-", "-", "(all)", ""
		if r.Status != nil {
			status = fmt.Sprint(*r.Status)
			if r.RetryAfterSeconds != nil {
				status += fmt.Sprintf(" (Retry-After %d)", *r.RetryAfterSeconds)
			}
		}
		if r.DelayMs != nil {
			delay = fmt.Sprintf("%dms", *r.DelayMs)
		}
		if r.AccessToken != nil {
			token = *r.AccessToken
		}
		if r.Message != nil {
			msg = oneLine(*r.Message)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.Id, r.Operation, status, delay, r.Remaining, r.Count, token, msg)
	}
}
