package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/mews"
)

// WebhookOptions tunes the delivery of MessageAdded webhooks. The zero value
// is the default policy described in the README.
type WebhookOptions struct {
	// Client sends the webhooks. Nil: an http.Client with Timeout.
	Client *http.Client
	// Timeout bounds one attempt. Zero: 5 s.
	Timeout time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is
	// Failed. Zero: 10.
	MaxAttempts int
	// Backoff is the wait after the n-th failed attempt (n from 1). Nil:
	// DefaultBackoff.
	Backoff func(n int) time.Duration
	// PollInterval is how often the queue is looked at when nothing wakes
	// the dispatcher (a restart, a retry coming due, another process).
	// Zero: 1 s.
	PollInterval time.Duration
	// Disabled keeps the dispatcher from starting: deliveries are queued
	// but not sent (another process may send them).
	Disabled bool
	// Profile chooses what the fields left zero default to:
	// WebhookProfileFast (also ""), or WebhookProfileMews, close to the
	// platform (webhook_profile.go).
	Profile string
	// Lag holds each delivery back until this long after it was queued
	// (the platform's messages "may arrive up to several minutes after the
	// event"); on the server's clock. Zero: none.
	Lag time.Duration
}

// DefaultBackoff waits 1 s after the first failure and doubles the wait
// after each next one, up to 10 minutes, with ±20 % jitter so that the
// retries of many deliveries to one receiver do not arrive in step.
func DefaultBackoff(n int) time.Duration {
	d := 10 * time.Minute
	if n < 10 {
		d = min(d, time.Second<<(n-1))
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// checkWebhookURL accepts absolute http and https URLs.
func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return mews.Errorf(mews.EINVALID, "Invalid webhook URL %q: it must be an absolute http or https URL.", s)
	}
	return nil
}

// dispatcher sends the queued deliveries of the outbox. It claims due
// deliveries with a lease, so that several dispatchers (of several
// processes on one PostgreSQL database) never send one delivery at once,
// and a delivery whose dispatcher died is sent again once its lease ends:
// delivery is at least once, as on the real platform.
type dispatcher struct {
	store  mews.Admin
	opts   WebhookOptions
	clock  *clock.Clock
	log    *slog.Logger
	wakeup chan struct{}
	// recorded, if set, is told of every attempt recorded (the live
	// views' change signal).
	recorded func()
	settle   chan chan struct{} // settled's requests
	cancel   context.CancelFunc
	stopped  chan struct{}
}

// claimBatch bounds the deliveries sent at once by one dispatcher.
const claimBatch = 16

func newDispatcher(store mews.Admin, opts WebhookOptions, clk *clock.Clock, log *slog.Logger) *dispatcher {
	opts = opts.withProfile()
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	return &dispatcher{store: store, opts: opts, clock: clk, log: log,
		wakeup: make(chan struct{}, 1), settle: make(chan chan struct{}), stopped: make(chan struct{})}
}

// start runs the dispatcher until stop. Deliveries queued before a restart
// are due, so the first round sends them.
func (d *dispatcher) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.loop(ctx)
}

// stop ends the loop and waits for the attempts in flight, which their
// context cuts short; an attempt cut short stays leased and is sent again
// after its lease.
func (d *dispatcher) stop() {
	if d == nil || d.cancel == nil {
		return
	}
	d.cancel()
	<-d.stopped
}

// wake makes the dispatcher look at the queue now: new messages were
// added. It never blocks the request that calls it.
func (d *dispatcher) wake() {
	if d == nil {
		return
	}
	select {
	case d.wakeup <- struct{}{}:
	default:
	}
}

// lease is how long a claimed delivery is not handed out again: longer than
// an attempt and the recording of its outcome.
func (d *dispatcher) lease() time.Duration { return 2*d.opts.Timeout + 10*time.Second }

func (d *dispatcher) loop(ctx context.Context) {
	defer close(d.stopped)
	t := time.NewTicker(d.opts.PollInterval)
	defer t.Stop()
	var settled chan struct{} // answered after the rounds that follow it
	for {
		// Taken before the round, so that a jump of the clock during it
		// (clock/advance: retries come due) is not missed.
		jumped := d.clock.Changed()
		for d.round(ctx) == claimBatch {
		}
		if settled != nil {
			close(settled)
			settled = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wakeup:
		case <-jumped:
		case settled = <-d.settle:
		}
	}
}

// settled waits until every attempt the dispatcher began before it was
// called has ended and been recorded, and the deliveries due then have
// been claimed and sent too: rounds run one after the other, each to its
// last attempt, so that a test knows no attempt is still on its way.
func (d *dispatcher) settled(ctx context.Context) error {
	if d == nil || d.cancel == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case d.settle <- done:
	case <-d.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-d.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// round claims and sends one batch of due deliveries and returns how many.
func (d *dispatcher) round(ctx context.Context) int {
	if err := d.clock.Sync(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("webhooks: cannot read the shared clock; using its last known state", "error", err)
	}
	ds, err := d.store.DeliveriesClaim(ctx, d.clock.Now(), d.lease(), claimBatch)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("webhooks: claim deliveries", "error", err)
		}
		return 0
	}
	now := d.clock.Now()
	var wg sync.WaitGroup
	for _, del := range ds {
		if due := del.CreatedUTC.Add(d.opts.Lag); del.Attempts == 0 && due.After(now) {
			// Held back: due again at the end of the lag, no attempt made.
			if err := d.store.DeliveryDefer(ctx, del.ID, due); err != nil && ctx.Err() == nil {
				d.log.Error("webhooks: hold back delivery", "delivery", del.ID, "error", err)
			}
			continue
		}
		wg.Go(func() { d.send(ctx, del) })
	}
	wg.Wait()
	return len(ds)
}

// send makes one attempt and records its outcome.
func (d *dispatcher) send(ctx context.Context, del mews.Delivery) {
	code, err := d.post(ctx, del)
	if ctx.Err() != nil {
		return // stopping: the lease brings it back
	}
	now := d.clock.Now()
	o := mews.DeliveryOutcome{ID: del.ID, At: now, StatusCode: code, Status: mews.DeliveryDelivered}
	if err != nil {
		o.Error = err.Error()
		o.Status = mews.DeliveryFailed
		if n := del.Attempts + 1; n < d.opts.MaxAttempts {
			o.Status, o.NextAttempt = mews.DeliveryPending, now.Add(d.opts.Backoff(n))
		}
	}
	if err := d.store.DeliveryRecord(context.WithoutCancel(ctx), o); err != nil {
		d.log.Error("webhooks: record attempt", "delivery", del.ID, "error", err)
		return
	}
	if d.recorded != nil {
		d.recorded()
	}
	// Logged once recorded, so that the line is the outcome as stored.
	if err != nil {
		d.log.Warn("webhook attempt failed", "delivery", del.ID, "url", del.URL, "attempt", del.Attempts+1,
			"status", o.Status, "next_attempt", o.NextAttempt, "error", o.Error)
	}
}

var errNotDelivered = errors.New("webhook not accepted")

// post sends the delivery; any 2xx answer is success.
func (d *dispatcher) post(ctx context.Context, del mews.Delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, bytes.NewReader(del.Payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mewsref-webhooks")
	res, err := d.opts.Client.Do(req)
	if err != nil {
		var ne net.Error
		if ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
			return 0, fmt.Errorf("no answer within %s (the receiver must answer in time)", d.opts.Timeout)
		}
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("%w: %s", errNotDelivered, res.Status)
	}
	return res.StatusCode, nil
}
