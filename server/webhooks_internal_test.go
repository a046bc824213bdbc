package server

import (
	"testing"
	"time"
)

func TestDefaultBackoffDoublesWithJitterUpToTenMinutes(t *testing.T) {
	for n, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 10: 10 * time.Minute, 40: 10 * time.Minute} {
		for range 100 {
			d := DefaultBackoff(n)
			if lo, hi := base*8/10, base*12/10; d < lo || d > hi {
				t.Fatalf("DefaultBackoff(%d) = %s, want within [%s, %s]", n, d, lo, hi)
			}
		}
	}
}

func TestWebhookURLsAreChecked(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:9000/x", "https://hooks.example.com/mews"} {
		if err := checkWebhookURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"", "/relative", "ftp://x/y", "http://", "not a url"} {
		if err := checkWebhookURL(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
