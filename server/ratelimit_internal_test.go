package server

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRateLimiterMatchesDefinition drives the limiter with random request
// times and checks every decision against the definition: a request at now
// is admitted when fewer than Requests admitted requests lie in
// (now-Window, now]; otherwise the wait is until the oldest of them leaves.
func TestRateLimiterMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		limit := RateLimit{Requests: 1 + rng.IntN(8), Window: time.Duration(1+rng.IntN(5000)) * time.Millisecond}
		l := newRateLimiter(limit)
		keys := []tokenKey{sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))}
		admitted := map[tokenKey][]time.Time{}
		now := time.Unix(1_700_000_000, 0)
		for i := range 2000 {
			now = now.Add(time.Duration(rng.IntN(int(limit.Window/time.Millisecond)/limit.Requests+2)) * time.Millisecond)
			key := keys[rng.IntN(len(keys))]
			var inWindow []time.Time
			for _, at := range admitted[key] {
				if now.Sub(at) < limit.Window {
					inWindow = append(inWindow, at)
				}
			}
			admitted[key] = inWindow // the older ones never count again
			wait, ok := l.admit(key, now)
			wantOK := len(inWindow) < limit.Requests
			if ok != wantOK {
				t.Fatalf("round %d request %d (limit %s): admitted %v, want %v", round, i, limit, ok, wantOK)
			}
			if ok {
				admitted[key] = append(admitted[key], now)
				continue
			}
			if want := inWindow[0].Add(limit.Window).Sub(now); wait != want {
				t.Fatalf("round %d request %d: wait %s, want %s", round, i, wait, want)
			}
		}
		for _, key := range keys {
			if n := len(l.admits[key]); n > limit.Requests {
				t.Fatalf("round %d: %d timestamps kept, limit %d", round, n, limit.Requests)
			}
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {29500 * time.Millisecond, 30}, {30 * time.Second, 30}} {
		if got := retryAfterSeconds(tc.wait); got != tc.want {
			t.Errorf("retryAfterSeconds(%s) = %d, want %d", tc.wait, got, tc.want)
		}
	}
}

func TestMaskTokenShowsAtMostAQuarter(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D", "C66E…453D"},
		{"my-hotel-a-token", "my…en"},
		{"123456789", "1…9"},
		{"1234567", "****"},
		{"", "****"},
		{"ééééééééé", "é…é"},
	} {
		if got := MaskToken(tc.token); got != tc.want {
			t.Errorf("MaskToken(%q) = %q, want %q", tc.token, got, tc.want)
		}
	}
}
