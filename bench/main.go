// Command bench measures the reference server against the ceiling of its
// stack. In one run it loads a SQLite file through the store (or opens one
// that it loaded earlier, -db), starts the real server and a bare Echo
// baseline on loopback, and sends the same requests of each operation to
// both from concurrent keep-alive connections. It prints, per operation,
// requests/s, p50 and p99 latency and the ratio server/baseline.
//
//	go run ./bench -c 32 -d 10s -threads 1000000 -messages 5000000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/benchdata"
	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/server"
)

type op struct{ name, path string }

var (
	opThreadsAdd     = op{"messageThreads/add", "/api/connector/v1/messageThreads/add"}
	opMessagesAdd    = op{"messages/add (10)", "/api/connector/v1/messages/add"}
	opThreadsGetAll  = op{"messageThreads/getAll (100)", "/api/connector/v1/messageThreads/getAll"}
	opMessagesGetAll = op{"messages/getAll (100)", "/api/connector/v1/messages/getAll"}
	ops              = []op{opThreadsAdd, opMessagesAdd, opThreadsGetAll, opMessagesGetAll}
)

const (
	clientToken = "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D"
	accessToken = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
)

func main() {
	conc := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "duration of each measurement")
	threads := flag.Int("threads", 100_000, "threads loaded before measuring")
	messages := flag.Int("messages", 500_000, "messages loaded before measuring, spread over the threads")
	dbPath := flag.String("db", "", "SQLite file: a new one is loaded and kept; one that the harness loaded earlier is measured as it is, and the adds add to it (default: a new one in a temporary folder)")
	only := flag.String("ops", "", "comma-separated operation names to measure (default: all)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the server runs to this file")
	journal := flag.Int("journal", server.DefaultJournal, "entries of the server's request journal, as mewsref -journal; 0: no journal")
	ab := flag.Int("ab", 0, "rounds of the journal's A/B: the server with -journal N against -journal 0 on the same store, alternating measurements of -d (ab.go); 0: the server against the baseline")
	flag.Parse()
	if err := run(*conc, *dur, *threads, *messages, *dbPath, *only, *cpuProfile, *journal, *ab); err != nil {
		log.Fatal(err)
	}
}

func run(conc int, dur time.Duration, nThreads, nMessages int, dbPath, only, cpuProfile string, journal, abRounds int) error {
	ctx := context.Background()
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "mewsref-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "bench.db")
	}
	fmt.Printf("machine: %d CPUs, %s %s/%s\n", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	store, data, err := openData(ctx, dbPath, nThreads, nMessages)
	if err != nil {
		return err
	}
	defer store.Close()
	// The loading is done by the harness, not the server: start the
	// measurement of memory from a collected heap.
	runtime.GC()
	debug.FreeOSMemory()

	var selected []op
	for _, o := range ops {
		if only == "" || strings.Contains(","+only+",", ","+strings.Fields(o.name)[0]+",") {
			selected = append(selected, o)
		}
	}
	bodies := newBodies(data)
	stopProfile, err := startProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	stopTrace, err := startTrace(*traceFile)
	if err != nil {
		return err
	}
	defer stopTrace()
	if abRounds > 0 {
		return runAB(ctx, store, bodies, conc, dur, abRounds, journal, selected)
	}

	if journal == 0 {
		journal = -1 // server.Config's "off"
	}
	fmt.Printf("request journal: %d entries (-journal; 0: off)\n", max(journal, 0))
	h, closeServer, err := server.New(server.Config{Store: store, Tokens: tokenConfig(), Journal: journal})
	if err != nil {
		return err
	}
	defer closeServer()
	srvURL, stopSrv, err := serve(h)
	if err != nil {
		return err
	}
	defer stopSrv()

	// The baseline answers with the bytes the server gives to the same
	// requests: the same shape and size.
	canned := map[string][]byte{}
	for _, o := range ops {
		b, err := capture(srvURL+o.path, bodies.next(o, 0, 0))
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		canned[o.path] = b
	}
	baseURL, stopBase, err := serve(newBaseline(canned))
	if err != nil {
		return err
	}
	defer stopBase()

	fmt.Printf("load: %d connections, %s per measurement, loopback\n\n", conc, dur)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\ttarget\treq/s\tp50\tp99\tfailed\tserver/baseline\tCPU/req\t")
	for _, o := range selected {
		body := func(w, i int) []byte { return bodies.next(o, w, i) }
		cpu0 := cputime.Process()
		s := load(ctx, srvURL+o.path, conc, dur, body)
		cpu1 := cputime.Process()
		b := load(ctx, baseURL+o.path, conc, dur, body)
		cpu2 := cputime.Process()
		for _, r := range []struct {
			target string
			res    result
			ratio  string
			cpu    time.Duration
		}{{"server", s, fmt.Sprintf("%.0f%%", 100*s.rate()/b.rate()), cpu1 - cpu0}, {"baseline", b, "", cpu2 - cpu1}} {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t\n", o.name, r.target, r.res.rate(),
				r.res.p50.Round(time.Microsecond), r.res.p99.Round(time.Microsecond), r.res.failures, r.ratio,
				(r.cpu / time.Duration(max(1, r.res.requests+r.res.failures))).Round(100*time.Nanosecond))
			if r.res.firstErr != "" {
				fmt.Fprintf(os.Stderr, "%s %s: first failure: %s\n", o.name, r.target, r.res.firstErr)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Server and load generator share this process; the load generator's
	// part is small (connections and latency samples).
	fmt.Println("\nCPU/req: the process's CPU time (getrusage) during the measurement per request, the load generator's included")
	fmt.Printf("resident memory after the runs (server and load generator): %.0f MiB\n", rssMB())
	return nil
}

// serve runs h on a loopback port.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func capture(url string, body []byte) ([]byte, error) {
	res, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", res.StatusCode, raw)
	}
	return raw, nil
}

// bodies makes request bodies: adds go to random known threads, pages start
// at random cursors deep in the data, so pages are read from everywhere.
type bodies struct {
	data *benchdata.Set
	pre  map[string][][]byte
}

func newBodies(d *benchdata.Set) *bodies {
	b := &bodies{data: d, pre: map[string][][]byte{}}
	rng := rand.New(rand.NewPCG(1, 2))
	creds := func(kv map[string]any) []byte {
		kv["ClientToken"], kv["AccessToken"], kv["Client"] = clientToken, accessToken, "bench 1.0"
		out, err := json.Marshal(kv)
		if err != nil {
			panic(err)
		}
		return out
	}
	window := map[string]any{
		"StartUtc": d.Start.Add(-time.Hour).Format(time.RFC3339),
		"EndUtc":   d.End.Add(24 * time.Hour).Format(time.RFC3339),
	}
	for range 1000 {
		b.pre[opThreadsAdd.path] = append(b.pre[opThreadsAdd.path], creds(map[string]any{
			"OriginalSender": "Bench Guest", "Subject": "Late check-out?"}))
		msgs := make([]map[string]any, 10)
		for i := range msgs {
			msgs[i] = map[string]any{"MessageThreadId": d.Threads[rng.IntN(len(d.Threads))], "Text": "Could we check out at 2 pm?", "Identifier": fmt.Sprint(i)}
		}
		b.pre[opMessagesAdd.path] = append(b.pre[opMessagesAdd.path], creds(map[string]any{"Messages": msgs}))
		b.pre[opThreadsGetAll.path] = append(b.pre[opThreadsGetAll.path], creds(map[string]any{
			"CreatedUtc": window, "Limitation": map[string]any{"Count": 100, "Cursor": d.Threads[rng.IntN(len(d.Threads))]}}))
		long := d.Long[rng.IntN(len(d.Long))]
		b.pre[opMessagesGetAll.path] = append(b.pre[opMessagesGetAll.path], creds(map[string]any{
			"MessageThreadIds": []uuid.UUID{long.Thread},
			"Limitation":       map[string]any{"Count": 100, "Cursor": long.Cursors[rng.IntN(len(long.Cursors))]}}))
	}
	return b
}

func (b *bodies) next(o op, worker, i int) []byte {
	list := b.pre[o.path]
	return list[(worker*7919+i)%len(list)]
}

// startProfile starts a CPU profile into path, if any; the returned
// function stops it.
// traceFile is -trace: a runtime/trace of the measurements (go tool trace,
// or golang.org/x/exp/trace to account for the goroutines' time).
var traceFile = flag.String("trace", "", "write a runtime/trace of the server runs to this file")

// startTrace starts the execution trace to path, if not empty.
func startTrace(path string) (func(), error) {
	return startRecording(path, trace.Start, trace.Stop)
}

func startProfile(path string) (func(), error) {
	return startRecording(path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startRecording starts a recording (start) into a new file at path, if
// not empty, and returns what stops it (stop) and closes the file.
func startRecording(path string, start func(io.Writer) error, stop func()) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { stop(); f.Close() }, nil
}
