package server

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Delivery profiles (WebhookOptions.Profile, -webhook-profile): the policy
// that the fields left zero default to.
const (
	// WebhookProfileFast is the default: retries within seconds, every
	// redirect followed, so that tests do not wait.
	WebhookProfileFast = "fast"
	// WebhookProfileMews is close to the platform (the Events section of
	// the reference): the receiver must answer within 5 s, only 307 and 308
	// redirects are followed (same method and body), a failed message is
	// sent again "after a few minutes" (MewsBackoff) up to MewsMaxAttempts
	// times in all and then discarded (Failed).
	WebhookProfileMews = "mews"
)

// The mews profile's limits.
const (
	MewsTimeout     = 5 * time.Second
	MewsMaxAttempts = 5
)

// MewsBackoff is the mews profile's wait after the n-th failed attempt:
// 2, 4, 8 and 16 minutes, ±10 % so that many retries do not arrive in step.
// Time is the server's clock, so a test that advances it sends them at once.
func MewsBackoff(n int) time.Duration {
	d := time.Minute << min(max(n, 1), 4)
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// checkProfile rejects an unknown profile name.
func checkProfile(p string) error {
	switch p {
	case "", WebhookProfileFast, WebhookProfileMews:
		return nil
	}
	return fmt.Errorf("webhook profile %q: want %s or %s", p, WebhookProfileFast, WebhookProfileMews)
}

// withProfile fills the fields left zero with the profile's values; those
// still zero then get the defaults of newDispatcher (the fast profile).
func (o WebhookOptions) withProfile() WebhookOptions {
	if o.Profile != WebhookProfileMews {
		return o
	}
	if o.Timeout <= 0 {
		o.Timeout = MewsTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = MewsMaxAttempts
	}
	if o.Backoff == nil {
		o.Backoff = MewsBackoff
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout, CheckRedirect: followTemporaryRedirects}
	}
	return o
}

// followTemporaryRedirects follows 307 and 308, which keep the method and
// the body, as the platform does; any other redirect is the answer, and
// not a 2xx, so the attempt failed.
func followTemporaryRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	if c := req.Response.StatusCode; c != http.StatusTemporaryRedirect && c != http.StatusPermanentRedirect {
		return http.ErrUseLastResponse
	}
	return nil
}
