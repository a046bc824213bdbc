package main

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/mewsref/mewsref/server"
)

// rateLimitValue is the -rate-limit flag: "200/30s", or empty for none. As
// a flag.Value it is checked when set, so a bad MEWSREF_RATE_LIMIT is named
// in the error like any other flag.
type rateLimitValue struct{ p **server.RateLimit }

func (v rateLimitValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (*v.p).String()
}

func (v rateLimitValue) Set(s string) error {
	if s == "" {
		*v.p = nil
		return nil
	}
	rl, err := server.ParseRateLimit(s)
	if err != nil {
		return err
	}
	*v.p = &rl
	return nil
}

// faultsValue is the -faults flag, in the syntax of server.ParseFaults, or
// empty for none.
type faultsValue struct{ p **server.FaultConfig }

func (v faultsValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (*v.p).String()
}

func (v faultsValue) Set(s string) error {
	if s == "" {
		*v.p = nil
		return nil
	}
	cfg, err := server.ParseFaults(s)
	if err != nil {
		return err
	}
	*v.p = cfg
	return nil
}

// rehearsal completes the opt-in failure settings and says loudly that they
// are on: a server that fails on purpose must never be mistaken for a
// broken one. A fault seed of 0 draws one at random and logs it, so that
// any run can be replayed.
func rehearsal(o *options, log *slog.Logger) {
	if o.rateLimit != nil {
		log.Info("rate limit on: requests per AccessToken in a sliding window, then 429 with Retry-After",
			"rate_limit", o.rateLimit.String())
	}
	if o.faults != nil {
		if o.faults.Seed = o.faultsSeed; o.faults.Seed == 0 {
			o.faults.Seed = rand.Uint64()
		}
		log.Warn("fault injection on: a share of requests is delayed or failed on purpose",
			"faults", o.faults.String(), "faults_seed", o.faults.Seed)
	}
}

// newHTTPServer bounds every phase of a connection, so that a slow or
// stalled client cannot hold a connection (and its goroutine) forever:
// headers must arrive within 10s, an idle keep-alive connection is closed
// after 2 minutes, and reading the body and writing the answer each get
// the request budget plus 30s. The margin matters: the server answers 408
// when the budget is spent, and that answer must still be written, not cut
// off by the write deadline. Without a request budget (negative) the
// answer has no write deadline either.
func newHTTPServer(h http.Handler, requestTimeout time.Duration, log *slog.Logger) *http.Server {
	const margin = 30 * time.Second
	budget := requestTimeout
	if budget == 0 {
		budget = server.DefaultRequestTimeout // what server.New uses for 0
	}
	read, write := budget+margin, budget+margin
	if budget < 0 {
		read, write = server.DefaultRequestTimeout+margin, 0
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       read,
		WriteTimeout:      write,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
