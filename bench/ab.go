package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/mews"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// The journal's A/B (-ab): what the request journal costs each operation,
// measured so that the machine's load cannot hide it. Two servers run on
// the same loaded store, one with the journal (-journal N) and one without;
// each round measures every operation on both, one after the other for -d
// each (on then off, off then on in the next round, so that a drift of the
// machine's speed falls on both sides alike). A round's on/off ratio
// compares two measurements a few seconds apart; the median of the rounds
// and their spread are printed per operation.
//
// Besides req/s, each measurement reads the CPU time of the process
// (getrusage) from its start until abSettle after its load, on both sides,
// and at least until the journal has written its last entry (the
// recorder's work after the measurement is the on side's), divided by
// its requests: the load generator's share is the same on both sides, so
// CPU on − off per request is the journal's, and, make bench being bound
// by the two cores, off/on of CPU per request is what its on/off ratio of
// req/s would be on a quiet machine.
//
// With -cpuprofile, every goroutine of a side (its connections, its load
// generator, the on side's recorder) carries the pprof label journal=on or
// journal=off:
//
//	go tool pprof -tagfocus journal=on -diff_base <(...) ...

// countingJournal counts the entries the recorder wrote to the store, so
// that a measurement ends when its entries are written.
type countingJournal struct {
	mews.Journal
	written atomic.Int64
}

func (j *countingJournal) RequestsAdd(ctx context.Context, entries []mews.Request, keep int) error {
	err := j.Journal.RequestsAdd(ctx, entries, keep)
	if err == nil {
		j.written.Add(int64(len(entries)))
	}
	return err
}

// abSide is one of the two servers.
type abSide struct {
	name    string
	url     string
	journal *countingJournal // nil: the journal is off
}

// abMeasure is one measurement of an operation on a side.
type abMeasure struct {
	res      result
	cpu      time.Duration // the process's, until abSettle after the load and the journal had written
	unlogged int64         // requests sent whose entries were not written (dropped)
}

func (m abMeasure) cpuPerReq() time.Duration {
	return m.cpu / time.Duration(max(1, m.res.requests+m.res.failures))
}

func runAB(ctx context.Context, store *sqlite.DB, b *bodies, conc int, dur time.Duration, rounds, journal int, selected []op) error {
	if journal <= 0 {
		return fmt.Errorf("-ab compares the journal on (-journal N, N > 0) with off; -journal %d", journal)
	}
	fmt.Printf("journal A/B: -journal %d against -journal 0 on the same store, %d rounds, %s per measurement, %d connections\n",
		journal, rounds, dur, conc)
	var sides [2]*abSide
	for i, keep := range []int{journal, -1} {
		side := &abSide{name: "off"}
		cfg := server.Config{Store: store, Tokens: tokenConfig(), Journal: keep}
		if keep > 0 {
			side.name = "on"
			side.journal = &countingJournal{Journal: store}
			cfg.JournalStore = side.journal
		}
		// The recorder and the connections' goroutines inherit the label.
		var (
			h           http.Handler
			closeServer func() error
			stop        func()
			err         error
		)
		pprof.Do(ctx, pprof.Labels("journal", side.name), func(context.Context) {
			if h, closeServer, err = server.New(cfg); err == nil {
				side.url, stop, err = serve(h)
			}
		})
		if closeServer != nil {
			defer closeServer()
		}
		if err != nil {
			return err
		}
		defer stop()
		sides[i] = side
	}

	all := map[string][]abMeasure{} // op name + side name: one per round
	// Round 0 warms both sides up (caches, statements, the journal's
	// first segment) and is not counted.
	for round := range rounds + 1 {
		for _, o := range selected {
			order := sides
			if round%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, side := range order {
				m := side.measure(ctx, o, conc, dur, b)
				if round > 0 {
					all[o.name+" "+side.name] = append(all[o.name+" "+side.name], m)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "round %d of %d done (0: warm-up)\n", round, rounds)
	}

	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\treq/s on\treq/s off\ton/off req/s: median\t95% CI\tCPU/req on\tCPU/req off\ton − off\toff/on CPU: median\t95% CI\trequests on, off\tfailed\tnot recorded\t")
	for _, o := range selected {
		on, off := all[o.name+" on"], all[o.name+" off"]
		var rate, cpu []float64
		var failed, reqOn, reqOff int
		var unlogged int64
		for i := range on {
			rate = append(rate, on[i].res.rate()/off[i].res.rate())
			cpu = append(cpu, float64(off[i].cpuPerReq())/float64(on[i].cpuPerReq()))
			failed += on[i].res.failures + off[i].res.failures
			unlogged += on[i].unlogged
			reqOn += on[i].res.requests
			reqOff += off[i].res.requests
		}
		medOn, medOff := medianOf(on, abMeasure.cpuPerReq), medianOf(off, abMeasure.cpuPerReq)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t[%.3f, %.3f]\t%s\t%s\t%s\t%.3f\t[%.3f, %.3f]\t%d, %d\t%d\t%d\t\n", o.name,
			median(rates(on)), median(rates(off)), median(rate), lo(rate), hi(rate),
			medOn.Round(100*time.Nanosecond), medOff.Round(100*time.Nanosecond), (medOn - medOff).Round(100*time.Nanosecond),
			median(cpu), lo(cpu), hi(cpu), reqOn, reqOff, failed, unlogged)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Println("\nreq/s and CPU/req: medians of the rounds; the ratios are per round (on and off measured one after the other), their median and the 95% confidence interval of the median;")
	fmt.Printf("CPU/req: the process's CPU time (load generator included) per request, until %s after the load on both sides and the journal had written the measurement's entries.\n", abSettle)
	fmt.Printf("resident memory after the runs (both servers and load generator): %.0f MiB\n", rssMB())
	return nil
}

// abSettle is how long after its load a measurement's CPU time is read:
// more than the period of the store's checkpointer (250 ms), whose pass
// after an add's load copies its last frames, and than the recorder's
// linger (50 ms).
const abSettle = 300 * time.Millisecond

// measure loads side with o for dur and waits for the journal to write
// the entries of the requests sent.
func (side *abSide) measure(ctx context.Context, o op, conc int, dur time.Duration, b *bodies) abMeasure {
	var m abMeasure
	var written0 int64
	if side.journal != nil {
		written0 = side.journal.written.Load()
	}
	cpu0 := cputime.Process()
	pprof.Do(ctx, pprof.Labels("journal", side.name), func(ctx context.Context) {
		m.res = load(ctx, side.url+o.path, conc, dur, func(w, i int) []byte { return b.next(o, w, i) })
	})
	end := time.Now()
	if side.journal != nil {
		// Every request answered has its entry queued, or dropped. Wait
		// for the recorder to write them; a second without progress ends
		// the wait (dropped entries are never written). The cut requests
		// at the end of load are answered and recorded too, so more
		// than sent may be written.
		sent := int64(m.res.requests + m.res.failures)
		last, since := side.journal.written.Load(), time.Now()
		for last-written0 < sent && time.Since(since) < time.Second {
			time.Sleep(time.Millisecond)
			if n := side.journal.written.Load(); n != last {
				last, since = n, time.Now()
			}
		}
		m.unlogged = max(0, sent-(last-written0))
	}
	// Both sides' windows end abSettle after the load, so that the work
	// a load leaves behind (the store's checkpoint pass, the requests cut
	// at its end) falls in each side's own window alike; ending the off
	// side's at the load's end and the on side's after its recorder's
	// wait charged the on side with more of it.
	time.Sleep(time.Until(end.Add(abSettle)))
	m.cpu = cputime.Process() - cpu0
	return m
}

func rates(ms []abMeasure) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = m.res.rate()
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// lo and hi bound the 95% confidence interval of the median of v, without
// assuming a distribution: the values of rank n/2 ∓ 0.98·√n (the binomial
// of the ranks, approximated by the normal one); the whole range for fewer
// than 6 values.
func lo(v []float64) float64 { return slices.Sorted(slices.Values(v))[ciRanks(len(v))] }

func hi(v []float64) float64 { return slices.Sorted(slices.Values(v))[len(v)-1-ciRanks(len(v))] }

func ciRanks(n int) int {
	return max(0, int(math.Floor(float64(n)/2-0.98*math.Sqrt(float64(n)))))
}

func medianOf(ms []abMeasure, f func(abMeasure) time.Duration) time.Duration {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = float64(f(m))
	}
	return time.Duration(median(v))
}
