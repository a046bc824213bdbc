package server

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mewsref/mewsref/mews"
)

// The operations, by the names that fault configurations use.
const (
	opThreadsGetAll  = "messageThreads/getAll"
	opThreadsAdd     = "messageThreads/add"
	opMessagesGetAll = "messages/getAll"
	opMessagesAdd    = "messages/add"
)

var operations = []string{opThreadsGetAll, opThreadsAdd, opMessagesGetAll, opMessagesAdd}

// AllOperations is the key of FaultConfig.Operations that applies to every
// operation without an entry of its own.
const AllOperations = "*"

// FaultConfig makes the server fail a share of requests on purpose, the way
// the real API can fail, so that integrators can rehearse their handling of
// 408, 429 (with Retry-After) and 500 answers and of slow answers.
//
// Faults strike only requests that are valid and authenticated (and within
// the rate limit), just before the operation would run: an injected failure
// never changes data, so a write answered with an injected 500 was not
// done. (The real API may also fail after a write; a client cannot tell the
// two apart, which is why writes are not retried blindly.)
type FaultConfig struct {
	// Operations maps an operation name ("messages/add") to its faults;
	// the entry AllOperations ("*") serves every operation without an
	// entry of its own.
	Operations map[string]Faults
	// Seed makes the faults reproducible. Each operation draws from its
	// own generator, seeded with Seed and the operation's name, so the same
	// seed and the same sequence of requests to an operation meet the same
	// faults whatever happens to the other operations.
	Seed uint64
}

// Faults are the failures of one operation. Shares are in [0, 1]; the
// shares of the three statuses add up to at most 1.
type Faults struct {
	Timeout         float64 // share of requests answered 408
	TooManyRequests float64 // share of requests answered 429
	Internal        float64 // share of requests answered 500
	// RetryAfter is the Retry-After of injected 429s, in whole seconds
	// (rounded up). Zero: 1 second.
	RetryAfter time.Duration
	// Delay holds a share DelayShare of the requests before they are
	// served (or failed). A delay past the request timeout is a 408.
	Delay      time.Duration
	DelayShare float64
}

func (f Faults) validate() error {
	for _, s := range []struct {
		name  string
		share float64
	}{{"408", f.Timeout}, {"429", f.TooManyRequests}, {"500", f.Internal}, {"delay", f.DelayShare}} {
		if !(s.share >= 0 && s.share <= 1) { // also refuses NaN
			return fmt.Errorf("share of %s must be between 0 and 1, got %v", s.name, s.share)
		}
	}
	if sum := f.Timeout + f.TooManyRequests + f.Internal; sum > 1 {
		return fmt.Errorf("shares of 408, 429 and 500 add up to %v, more than 1", sum)
	}
	if f.Delay < 0 || f.RetryAfter < 0 {
		return errors.New("durations must not be negative")
	}
	return nil
}

// ParseFaults reads a fault configuration from its one-line form, the value
// of the -faults flag; the Seed is left zero.
//
//	messages/add:500=0.1,429=0.05;*:delay=200ms@0.2
//
// Rules are separated by ';'. A rule names an operation, or '*' for all of
// them, then ':' and items separated by ',':
//
//	408=SHARE  429=SHARE  500=SHARE   answer that share of requests with the status
//	delay=DURATION[@SHARE]            delay that share of requests (default share 1)
//	retry-after=DURATION              Retry-After of injected 429s (default 1s)
//
// An operation's own rule overrides, item by item, the rule of '*': above,
// messages/add fails with 500 and 429 and is also delayed.
func ParseFaults(s string) (*FaultConfig, error) {
	rules := map[string][]string{} // target -> items
	var order []string
	for rule := range strings.SplitSeq(s, ";") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		target, items, ok := strings.Cut(rule, ":")
		target = strings.TrimSpace(target)
		if !ok {
			return nil, fmt.Errorf("faults: rule %q: want OPERATION:ITEM,ITEM...", rule)
		}
		if target != AllOperations && !slices.Contains(operations, target) {
			return nil, fmt.Errorf("faults: unknown operation %q; want * or one of %s", target, strings.Join(operations, ", "))
		}
		if _, dup := rules[target]; dup {
			return nil, fmt.Errorf("faults: two rules for %s", target)
		}
		rules[target] = strings.Split(items, ",")
		order = append(order, target)
	}
	if len(order) == 0 {
		return nil, errors.New("faults: no rule; want e.g. messages/add:500=0.1")
	}
	all := Faults{}
	if items, ok := rules[AllOperations]; ok {
		if err := applyFaultItems(&all, items); err != nil {
			return nil, fmt.Errorf("faults: *: %w", err)
		}
	}
	cfg := &FaultConfig{Operations: map[string]Faults{}}
	for _, target := range order {
		f := all
		if target != AllOperations {
			if err := applyFaultItems(&f, rules[target]); err != nil {
				return nil, fmt.Errorf("faults: %s: %w", target, err)
			}
		}
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("faults: %s: %w", target, err)
		}
		cfg.Operations[target] = f
	}
	return cfg, nil
}

// applyFaultItems sets the fields of f that items name.
func applyFaultItems(f *Faults, items []string) error {
	for _, item := range items {
		key, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return fmt.Errorf("item %q: want KEY=VALUE", item)
		}
		var err error
		switch key {
		case "408":
			f.Timeout, err = parseShare(val)
		case "429":
			f.TooManyRequests, err = parseShare(val)
		case "500":
			f.Internal, err = parseShare(val)
		case "retry-after":
			f.RetryAfter, err = time.ParseDuration(val)
		case "delay":
			d, share, hasShare := strings.Cut(val, "@")
			if f.Delay, err = time.ParseDuration(d); err == nil {
				f.DelayShare = 1
				if hasShare {
					f.DelayShare, err = parseShare(share)
				}
			}
		default:
			return fmt.Errorf("item %q: unknown key %q; want 408, 429, 500, delay or retry-after", item, key)
		}
		if err != nil {
			return fmt.Errorf("item %q: %w", item, err)
		}
	}
	return nil
}

func parseShare(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, fmt.Errorf("share %q: want a number between 0 and 1", s)
	}
	return f, nil
}

// String writes the configuration back in the form ParseFaults reads, with
// every operation's rule complete, for the log.
func (c *FaultConfig) String() string {
	var rules []string
	for _, op := range append([]string{AllOperations}, operations...) {
		f, ok := c.Operations[op]
		if !ok {
			continue
		}
		items := []string{
			"408=" + formatShare(f.Timeout), "429=" + formatShare(f.TooManyRequests), "500=" + formatShare(f.Internal),
			"delay=" + f.Delay.String() + "@" + formatShare(f.DelayShare),
		}
		if f.RetryAfter > 0 {
			items = append(items, "retry-after="+f.RetryAfter.String())
		}
		rules = append(rules, op+":"+strings.Join(items, ","))
	}
	return strings.Join(rules, ";")
}

func formatShare(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// faultInjector decides, per request, whether to delay or fail it.
type faultInjector struct {
	ops map[string]*operationFaults // every operation; read-only after construction
}

type operationFaults struct {
	faults Faults
	mu     sync.Mutex
	rng    *rand.Rand
}

func newFaultInjector(cfg *FaultConfig) (*faultInjector, error) {
	for op, f := range cfg.Operations {
		if op != AllOperations && !slices.Contains(operations, op) {
			return nil, fmt.Errorf("faults: unknown operation %q", op)
		}
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("faults: %s: %w", op, err)
		}
	}
	fi := &faultInjector{ops: make(map[string]*operationFaults, len(operations))}
	for _, op := range operations {
		f, ok := cfg.Operations[op]
		if !ok {
			f = cfg.Operations[AllOperations]
		}
		h := fnv.New64a()
		h.Write([]byte(op))
		fi.ops[op] = &operationFaults{faults: f, rng: rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))}
	}
	return fi, nil
}

// inject delays or fails a request to op, or does nothing. Every request
// draws the same two numbers whatever the configuration, so the faults of
// a seed do not shift when a share changes.
func (fi *faultInjector) inject(ctx context.Context, op string) error {
	of := fi.ops[op]
	if of == nil {
		return nil
	}
	of.mu.Lock()
	delay, fail := of.rng.Float64(), of.rng.Float64()
	of.mu.Unlock()
	f := of.faults
	if delay < f.DelayShare && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err() // the request timeout: 408
		case <-t.C:
		}
	}
	const note = "Injected fault (the server's fault configuration), not a bug: "
	switch {
	case fail < f.Timeout:
		return mews.Errorf(mews.ETIMEOUT, note+"the request was answered 408 Request Timeout and not processed.")
	case fail < f.Timeout+f.TooManyRequests:
		retry := f.RetryAfter
		if retry == 0 {
			retry = time.Second
		}
		secs := retryAfterSeconds(retry)
		return &mews.Error{
			Code: mews.ERATELIMIT,
			Message: fmt.Sprintf(note+"the request was answered 429 Too Many Requests and not processed; retry after %d %s.",
				secs, plural(secs, "second", "seconds")),
			Details: RetryAfter{Seconds: secs},
		}
	case fail < f.Timeout+f.TooManyRequests+f.Internal:
		return mews.Errorf(mews.EINTERNAL, note+"the request was answered 500 Internal Server Error and not processed.")
	}
	return nil
}
