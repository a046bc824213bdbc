package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mewsref/mewsref/mews"
)

// RateLimit is a request limit per AccessToken: at most Requests in any
// sliding window of length Window. The real API allows 200 requests per
// AccessToken in 30 seconds on its demo environment; RateLimit{200,
// 30 * time.Second} rehearses that.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// ParseRateLimit reads a limit written as requests/window, the window a Go
// duration: "200/30s".
func ParseRateLimit(s string) (RateLimit, error) {
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("rate limit %q: want requests/window, e.g. 200/30s", s)
	}
	requests, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: requests: %w", s, err)
	}
	window, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: window: %w", s, err)
	}
	rl := RateLimit{Requests: requests, Window: window}
	if err := rl.validate(); err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	return rl, nil
}

func (r RateLimit) String() string { return strconv.Itoa(r.Requests) + "/" + r.Window.String() }

func (r RateLimit) validate() error {
	if r.Requests < 1 {
		return errors.New("requests must be at least 1")
	}
	if r.Window <= 0 {
		return errors.New("window must be positive")
	}
	return nil
}

// rateLimiter keeps, per AccessToken, the times of the requests it admitted
// within the last window: an exact sliding window (a log of timestamps),
// not the sliding-window-counter approximation, so that a test can predict
// to the second when the next request is admitted. Memory is bounded: only
// authenticated requests reach the limiter, so there is one queue per
// configured access token, of at most Requests timestamps. Keys are
// SHA-256 digests of the tokens; the limiter never holds a token.
type rateLimiter struct {
	limit RateLimit

	mu     sync.Mutex
	admits map[tokenKey][]time.Time // oldest first
}

func newRateLimiter(limit RateLimit) *rateLimiter {
	return &rateLimiter{limit: limit, admits: make(map[tokenKey][]time.Time)}
}

// admit counts a request of key at now, or, when key already has Requests
// requests in the window that ends at now, refuses it and says how long
// until the oldest of them leaves the window. A refused request is not
// counted: a client that waits as told is admitted.
func (l *rateLimiter) admit(key tokenKey, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.admits[key]
	// A request at t counts at every instant in [t, t+Window).
	expired := 0
	for expired < len(q) && now.Sub(q[expired]) >= l.limit.Window {
		expired++
	}
	q = q[expired:]
	if len(q) >= l.limit.Requests {
		l.admits[key] = q
		// Clamped for a clock that went back: the wait is never longer
		// than one window.
		return min(q[0].Add(l.limit.Window).Sub(now), l.limit.Window), false
	}
	// Appending to the resliced queue reuses its array until it is full,
	// then copies only the live timestamps: memory stays proportional to
	// the requests in the window.
	l.admits[key] = append(q, now)
	return 0, true
}

// retryAfterSeconds is a wait as the Retry-After header says it: whole
// seconds, rounded up so that a client waiting that long is admitted, and
// at least 1.
func retryAfterSeconds(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}

// tooManyRequests is the 429 of the rate limit; RetryAfter in Details sets
// the Retry-After header (see handleError).
func tooManyRequests(limit RateLimit, wait time.Duration) *mews.Error {
	secs := retryAfterSeconds(wait)
	return &mews.Error{
		Code: mews.ERATELIMIT,
		Message: fmt.Sprintf("Too many requests: this AccessToken may send %d requests in %s; retry after %d %s.",
			limit.Requests, limit.Window, secs, plural(secs, "second", "seconds")),
		Details: RetryAfter{Seconds: secs},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
