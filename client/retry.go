package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/mewsref/mewsref/gen"
)

// RetryPolicy says which failed requests are sent again and how long to wait
// in between. Every operation of the API is a POST, so HTTP's notion of
// idempotent methods does not help; the policy tells reads (the getAll
// operations, always safe to repeat) from writes (the add operations).
//
// Reads are retried on:
//   - 429 Too Many Requests, after the Retry-After the server asked for;
//   - 408 Request Timeout and 5xx (but not 501 and 505, which no retry will
//     change), after an exponential backoff with full jitter;
//   - network failures: connection refused or reset, timeouts, a connection
//     closed before the answer.
//
// Writes are retried only when the server certainly did not act on the
// request: on 429 (the rate limit rejects a request before it is processed)
// and when the connection could not even be opened (connection refused,
// DNS failure). After a 408, a 5xx or a connection lost mid-request the
// server may well have added the thread or the messages; sending them again
// would add them twice, and a guest would see the same message twice. Such
// a write is retried only when RetryWrites is true; otherwise the error is
// returned and the caller decides (for example by looking the items up with
// GetMessages before sending them again).
//
// Zero fields take their defaults, so RetryPolicy{RetryWrites: true} is the
// default policy plus write retries. Use [WithoutRetries] (or MaxAttempts 1)
// to send every request exactly once.
type RetryPolicy struct {
	// MaxAttempts is the number of times a request is sent, the first one
	// included. Default 4; 1 disables retries.
	MaxAttempts int

	// BaseDelay is the backoff cap before the first retry; it doubles with
	// every further retry, up to MaxDelay. The actual wait is drawn
	// uniformly between 0 and that cap ("full jitter"), so that many
	// clients failing together do not retry together. Default 200ms.
	BaseDelay time.Duration

	// MaxDelay bounds the backoff cap. Default 5s.
	MaxDelay time.Duration

	// MaxRetryAfter is the longest Retry-After the client waits for. When
	// the server asks for longer, the client does not wait a shorter time
	// (it would only be refused again) but returns the 429 at once as an
	// *Error whose RetryAfter says how long to wait. Default 30s, the
	// length of the Mews rate-limit window.
	MaxRetryAfter time.Duration

	// RetryWrites also retries messageThreads/add and messages/add after
	// failures that leave it unknown whether the server acted (408, 5xx,
	// connection lost after sending), accepting possible duplicates.
	// Default false.
	RetryWrites bool
}

// Defaults of RetryPolicy.
const (
	DefaultMaxAttempts   = 4
	DefaultBaseDelay     = 200 * time.Millisecond
	DefaultMaxDelay      = 5 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
)

// DefaultRetryPolicy returns the policy used when no option says otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{}.withDefaults()
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	return p
}

// retryDoer sends a request through next and, following policy, sends it
// again after a retryable failure. It sits between the generated client and
// the *http.Client, so it sees each finished request and can resend its
// body, which it buffers once.
type retryDoer struct {
	next   gen.HttpRequestDoer
	policy RetryPolicy
	// write marks the doer of the add operations (see RetryPolicy).
	write bool
	// sleep waits d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a uniform random number in [0, n); replaced in tests.
	jitter func(n int64) int64
	// now is the clock for HTTP-date Retry-After values.
	now func() time.Time
}

func (d *retryDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("mews: reading request body: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		rsp, err := d.next.Do(r)
		if attempt >= d.policy.MaxAttempts {
			return rsp, err
		}
		wait, retry := d.decide(ctx, attempt, rsp, err)
		if !retry {
			return rsp, err
		}
		last := err
		if rsp != nil {
			last = newError(rsp) // also drains and closes the body
		}
		if err := d.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("mews: gave up retrying: %w (last attempt: %w)", err, last)
		}
	}
}

// decide says whether the answer to attempt (rsp or err) is retried, and
// after which wait.
func (d *retryDoer) decide(ctx context.Context, attempt int, rsp *http.Response, err error) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	switch {
	case err != nil:
		sent, retryable := classifyTransportError(err)
		if !retryable || (sent && d.write && !d.policy.RetryWrites) {
			return 0, false
		}
		wait = d.backoff(attempt)
	case rsp.StatusCode == http.StatusTooManyRequests:
		wait = d.backoff(attempt)
	case rsp.StatusCode == http.StatusRequestTimeout,
		rsp.StatusCode >= 500 && rsp.StatusCode != http.StatusNotImplemented && rsp.StatusCode != http.StatusHTTPVersionNotSupported:
		if d.write && !d.policy.RetryWrites {
			return 0, false
		}
		wait = d.backoff(attempt)
	default:
		return 0, false
	}
	if rsp != nil {
		if ra, ok := parseRetryAfter(rsp.Header.Get("Retry-After"), d.now()); ok {
			if ra > d.policy.MaxRetryAfter {
				return 0, false
			}
			wait = ra
		}
	}
	// Waiting past the context's deadline would only turn the server's
	// answer into context.DeadlineExceeded; return the answer instead.
	if deadline, ok := ctx.Deadline(); ok && d.now().Add(wait).After(deadline) {
		return 0, false
	}
	return wait, true
}

// backoff returns the wait before retry number attempt (1 for the first
// retry): uniform in [0, min(MaxDelay, BaseDelay*2^(attempt-1))].
func (d *retryDoer) backoff(attempt int) time.Duration {
	ceiling := d.policy.MaxDelay
	if shift := attempt - 1; shift < 62 {
		if c := d.policy.BaseDelay << shift; c > 0 && c < ceiling {
			ceiling = c
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(d.jitter(int64(ceiling) + 1))
}

// classifyTransportError says whether a failure to get an answer is worth
// retrying, and whether the request may have reached the server (sent).
func classifyTransportError(err error) (sent, retryable bool) {
	// A certificate or TLS protocol problem will not go away by itself.
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &recErr) {
		return false, false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return false, !dnsErr.IsNotFound
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
		return false, true
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true, true
	}
	return true, false
}

// sleepContext waits d, or until ctx is done and then returns its error.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func newRetryDoer(next gen.HttpRequestDoer, cfg *config, write bool) *retryDoer {
	return &retryDoer{
		next:   next,
		policy: cfg.retry.withDefaults(),
		write:  write,
		sleep:  cfg.sleep,
		jitter: cfg.jitter,
		now:    cfg.now,
	}
}

var _ gen.HttpRequestDoer = (*retryDoer)(nil)

// defaultJitter is rand.Int64N, safe for concurrent use.
func defaultJitter(n int64) int64 { return rand.Int64N(n) }
