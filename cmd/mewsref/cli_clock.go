package main

// The server's clock through the admin API (clock/get, clock/set,
// clock/advance, clock/release), and the server's -clock flag.

import (
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
)

// clockValue is the -clock flag: nil until given.
type clockValue struct{ p **clock.State }

func (v clockValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (*v.p).String()
}

func (v clockValue) Set(s string) error {
	if s == "" {
		*v.p = nil
		return nil
	}
	st, err := clock.Parse(s, nil)
	if err != nil {
		return err
	}
	*v.p = &st
	return nil
}

func printClock(c *cli, res *admin.AdminClock) error {
	return c.print(res, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "MODE\tNOW")
		fmt.Fprintf(w, "%s\t%s\n", res.Mode, res.NowUtc.UTC().Format(time.RFC3339Nano))
	})
}

var cmdClockGet = &command{
	name:    "clock get",
	summary: "show the server's clock: real or frozen, and its instant (admin)",
	args:    "--admin-token T",
	example: "mewsref clock get --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminClock](c.ctx, c, "clock get", (*admin.Client).AdminClockGet, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return printClock(c, res)
		}
	},
}

var cmdClockSet = &command{
	name:    "clock set",
	summary: "freeze the server's clock at an instant, never in its past (admin)",
	args:    "[--now-utc INSTANT] --admin-token T",
	example: "mewsref clock set --now-utc 2027-01-15T09:00:00Z --admin-token secret\nmewsref clock set --admin-token secret",
	details: "INSTANT is RFC 3339. Without --now-utc the clock stops at its current instant.",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		now := fs.String("now-utc", "", "the `INSTANT` to freeze the clock at, RFC 3339 (empty: its current instant)")
		return func([]string) error {
			var p admin.AdminClockSetParameters
			if *now != "" {
				t, err := time.Parse(time.RFC3339Nano, *now)
				if err != nil {
					return usagef("clock set", "--now-utc: %q is not an RFC 3339 instant such as 2027-01-15T09:00:00Z", *now)
				}
				p.NowUtc = &t
			}
			res, err := adminDo[admin.AdminClock](c.ctx, c, "clock set", (*admin.Client).AdminClockSet, p)
			if err != nil {
				return err
			}
			return printClock(c, res)
		}
	},
}

var cmdClockAdvance = &command{
	name:    "clock advance",
	summary: "move the server's clock ahead; due webhook retries go out at once (admin)",
	args:    "--seconds S | --duration D --admin-token T",
	example: "mewsref clock advance --duration 72h --admin-token secret\nmewsref clock advance --seconds 30 --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		seconds := fs.Float64("seconds", 0, "how many `seconds` to move ahead (fractions allowed)")
		duration := fs.Duration("duration", 0, "how far to move ahead, as a Go `duration` (90s, 72h, 1h30m)")
		return func([]string) error {
			if (*seconds == 0) == (*duration == 0) {
				return usagef("clock advance", "give one of --seconds and --duration")
			}
			secs := *seconds
			if *duration != 0 {
				secs = duration.Seconds()
			}
			res, err := adminDo[admin.AdminClock](c.ctx, c, "clock advance", (*admin.Client).AdminClockAdvance, admin.AdminClockAdvanceParameters{Seconds: secs})
			if err != nil {
				return err
			}
			return printClock(c, res)
		}
	},
}

var cmdClockRelease = &command{
	name:    "clock release",
	summary: "let a frozen clock run again from its instant (admin)",
	args:    "--admin-token T",
	example: "mewsref clock release --admin-token secret",
	conn:    true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		return func([]string) error {
			res, err := adminDo[admin.AdminClock](c.ctx, c, "clock release", (*admin.Client).AdminClockRelease, admin.AdminEmpty{})
			if err != nil {
				return err
			}
			return printClock(c, res)
		}
	},
}
