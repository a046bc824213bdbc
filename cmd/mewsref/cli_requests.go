package main

// mewsref requests: the request journal (admin API requests/getAll), as a
// table, as JSON lines, or followed as requests arrive; mewsref requests
// count and mewsref requests clear are requests/count and requests/clear.

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

var cmdRequests = &command{
	name:    "requests",
	summary: "list the API requests the server received and its answers, or follow them (admin)",
	args:    "[--operation OPS] [--status CODES] [--integration NAMES|IDS] [--thread IDS] [--request IDS] [--token TOKEN] [--since WHEN] [--count N] [--follow] --admin-token T",
	example: "mewsref requests --admin-token secret\n" +
		"mewsref requests --op messages/add --status 400,401 --count 5 --admin-token secret\n" +
		"mewsref requests --follow --json --admin-token secret",
	details: "Lists the newest entries of the request journal (the server's -journal), oldest first, with\n" +
		"tokens masked; --json prints one entry per line, as the admin API gives it (requests/getAll).\n" +
		"Lists take comma-separated values. --follow keeps printing new entries until interrupted.",
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		filter := requestFilterFlags(c, "requests", fs)
		count := fs.Int("count", 20, "the newest `N` entries (at most 1000)")
		follow := fs.Bool("follow", false, "then print new entries as they arrive, until interrupted")
		interval := fs.Duration("interval", time.Second, "with --follow, how often to ask the server")
		return func([]string) error {
			if err := checkCount("requests", *count); err != nil {
				return err
			}
			rf, err := filter()
			if err != nil {
				return err
			}
			f := admin.AdminRequestsParameters{Operations: rf.Operations, IntegrationIds: rf.IntegrationIds, AccessToken: rf.AccessToken,
				Statuses: rf.Statuses, CreatedUtc: rf.CreatedUtc, RequestIds: rf.RequestIds, MessageThreadIds: rf.MessageThreadIds}
			page := func(n int) ([]admin.AdminRequest, error) {
				f.Limitation = admin.Limitation{Count: int32(n)}
				res, err := adminDo[admin.AdminRequestPage](c.ctx, c, "requests", (*admin.Client).AdminRequestsGetAll, f)
				if err != nil {
					return nil, err
				}
				return res.Requests, nil
			}
			n := *count
			if *follow {
				// What follow compares with is the page it polls: the entries
				// behind the newest --count are not new either.
				n = followPage
			}
			list, err := page(n)
			if err != nil {
				return err
			}
			p := &requestPrinter{c: c}
			if err := p.print(list[:min(len(list), *count)], true); err != nil || !*follow {
				return err
			}
			seen := ids(list)
			tick := time.NewTicker(*interval)
			defer tick.Stop()
			for {
				select {
				case <-c.ctx.Done():
					return nil
				case <-tick.C:
				}
				list, err := page(followPage)
				if err != nil {
					if c.ctx.Err() != nil {
						return nil
					}
					return err
				}
				var fresh []admin.AdminRequest
				for _, e := range list {
					if !seen[e.RequestId] {
						fresh = append(fresh, e)
					}
				}
				if err := p.print(fresh, false); err != nil {
					return err
				}
				// What left the newest page can not come back into it.
				seen = ids(list)
			}
		}
	},
}

var cmdRequestsCount = &command{
	name:    "requests count",
	summary: "count the journal's requests that match the filters (admin)",
	args:    "[--operation OPS] [--status CODES] [--integration NAMES|IDS] [--thread IDS] [--request IDS] [--token TOKEN] [--since WHEN] --admin-token T",
	example: "mewsref requests count --operation messages/add --status 200 --admin-token secret\n" +
		"mewsref requests count --since 10m --json --admin-token secret",
	details: "Prints how many entries of the request journal match (requests/count), with the filters of\n" +
		"mewsref requests, and how many requests this server process could not record (Dropped).\n" +
		"--json prints the admin API's answer, {\"Count\":N,\"Dropped\":M}.",
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		filter := requestFilterFlags(c, "requests count", fs)
		return func([]string) error {
			f, err := filter()
			if err != nil {
				return err
			}
			res, err := adminDo[admin.AdminRequestCount](c.ctx, c, "requests count", (*admin.Client).AdminRequestsCount, f)
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "COUNT\tDROPPED")
				fmt.Fprintf(w, "%d\t%d\n", res.Count, res.Dropped)
			})
		}
	},
}

var cmdRequestsClear = &command{
	name:    "requests clear",
	summary: "empty the request journal; the data stays (admin)",
	args:    "--admin-token T",
	example: "mewsref requests clear --admin-token secret",
	details: "Deletes every entry of the request journal (requests/clear); on PostgreSQL, of every\n" +
		"replica. Threads and messages are not touched (see mewsref reset).",
	conn: true,
	setup: func(c *cli, _ *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminEmpty](c.ctx, c, "requests clear", (*admin.Client).AdminRequestsClear, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return c.print(res, func(w *tabwriter.Writer) { fmt.Fprintln(w, "The request journal is empty.") })
		}
	},
}

// requestFilterFlags defines the filters of the journal's commands
// (requests, requests count) on fs, with the names of requests/getAll's
// filter; the function it returns builds the filter once they are parsed
// (it asks the server for integration names and the clock of --since).
func requestFilterFlags(c *cli, cmd string, fs *flag.FlagSet) func() (admin.AdminRequestFilter, error) {
	// --operation as in faults add and the console; --op, its first name,
	// stays for the scripts that use it.
	ops := fs.String("operation", "", "only these `operations`, e.g. messages/add,messages/getAll")
	fs.StringVar(ops, "op", "", "short for --operation: these `operations`")
	statuses := fs.String("status", "", "only these HTTP status `codes`, e.g. 400,401")
	integrations := fs.String("integration", "", "only requests of these integrations: their `names` or IntegrationIds")
	threads := fs.String("thread", "", "only requests that name or created these thread `IDs`")
	requests := fs.String("request", "", "only these Request-Id `values`")
	token := fs.String("token", "", "only requests that carried this full access `token` (compared by the server, never shown)")
	since := fs.String("since", "", "only requests received since `WHEN`: an RFC 3339 instant, or a duration back from the server's clock such as 10m")
	return func() (admin.AdminRequestFilter, error) {
		ins, err := c.integrationIDs(*integrations)
		if err != nil {
			return admin.AdminRequestFilter{}, err
		}
		return requestsFilter(cmd, *ops, *statuses, ins, *threads, *requests, *token, *since, c.now)
	}
}

// integrationIDs turns a comma-separated list of integration names or
// IntegrationIds into IntegrationIds, as export and listen take them.
func (c *cli) integrationIDs(list string) (string, error) {
	items := split(list)
	for i, s := range items {
		if _, err := uuid.Parse(s); err == nil {
			continue
		}
		in, err := c.findIntegration(s)
		if err != nil {
			return "", err
		}
		items[i] = in.IntegrationId.String()
	}
	return strings.Join(items, ","), nil
}

// followPage is the page that --follow polls: the newest entries, as many
// as the admin API gives at once.
const followPage = 1000

func ids(list []admin.AdminRequest) map[uuid.UUID]bool {
	m := make(map[uuid.UUID]bool, len(list))
	for _, e := range list {
		m[e.RequestId] = true
	}
	return m
}

// requestPrinter prints entries oldest first: JSON lines, or a table whose
// header comes once.
type requestPrinter struct {
	c      *cli
	header bool
}

func (p *requestPrinter) print(newestFirst []admin.AdminRequest, first bool) error {
	list := slices.Clone(newestFirst)
	slices.Reverse(list)
	if p.c.json {
		enc := json.NewEncoder(p.c.out)
		for _, e := range list {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(list) == 0 {
		if first {
			_, err := fmt.Fprintln(p.c.out, "no requests recorded (yet)")
			return err
		}
		return nil
	}
	w := tabwriter.NewWriter(p.c.out, 0, 4, 2, ' ', 0)
	if !p.header {
		fmt.Fprintln(w, "RECEIVED\tSTATUS\tOPERATION\tINTEGRATION\tACCESS TOKEN\tMS\tREQUEST ID\tMESSAGE")
		p.header = true
	}
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%.1f\t%s\t%s\n", e.CreatedUtc.Format(time.RFC3339), e.Status,
			oneLine(e.Operation), oneLine(deref(e.IntegrationName, "-")), deref(e.AccessToken, "-"),
			e.DurationMs, e.RequestId, oneLine(deref(e.Message, "")))
	}
	return w.Flush()
}

func deref(s *string, none string) string {
	if s == nil {
		return none
	}
	return *s
}

// requestsFilter builds the filter of requests/getAll and requests/count
// from the flags of cmd; a --since duration counts back from now(), the
// server's clock.
func requestsFilter(cmd, ops, statuses, integrations, threads, requests, token, since string, now func() time.Time) (admin.AdminRequestFilter, error) {
	var f admin.AdminRequestFilter
	if list := split(ops); list != nil {
		f.Operations = &list
	}
	if list := split(statuses); list != nil {
		codes := make([]int32, len(list))
		for i, s := range list {
			n, err := strconv.Atoi(s)
			if err != nil || n < 100 || n > 599 {
				return f, usagef(cmd, "--status: %q is not an HTTP status code", s)
			}
			codes[i] = int32(n)
		}
		f.Statuses = &codes
	}
	for _, l := range []struct {
		flag string
		in   string
		out  **[]uuid.UUID
	}{{"integration", integrations, &f.IntegrationIds}, {"thread", threads, &f.MessageThreadIds}, {"request", requests, &f.RequestIds}} {
		list := split(l.in)
		if list == nil {
			continue
		}
		parsed := make([]uuid.UUID, len(list))
		for i, s := range list {
			id, err := uuid.Parse(s)
			if err != nil {
				return f, usagef(cmd, "--%s: %q is not a UUID", l.flag, s)
			}
			parsed[i] = id
		}
		*l.out = &parsed
	}
	if token != "" {
		f.AccessToken = &token
	}
	if since != "" {
		start, err := time.Parse(time.RFC3339, since)
		if err != nil {
			d, derr := time.ParseDuration(since)
			if derr != nil || d < 0 {
				return f, usagef(cmd, "--since: %q is neither an RFC 3339 instant nor a duration such as 10m", since)
			}
			start = now().Add(-d)
		}
		// The end is far enough ahead for any clock the server may run on.
		f.CreatedUtc = &admin.AdminRequestInterval{StartUtc: start.UTC(), EndUtc: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}
	}
	return f, nil
}

func split(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
