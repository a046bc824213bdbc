// Package testwait says how long the waits of a test may last: until the
// test's own deadline, so that a loaded machine makes a test slow, not
// failed, while a broken feature still fails with what the test waited
// for rather than the test binary's panic.
package testwait

import (
	"testing"
	"time"
)

// Deadline is when the waits of t give up: the test's own deadline (go
// test -timeout), less the time to say what it waited for and to close or
// stop what it opened (a browser, a server process). Without a deadline
// (-timeout 0), go test's default of 10 minutes.
func Deadline(t *testing.T) time.Time {
	d, ok := t.Deadline()
	if !ok {
		return time.Now().Add(10 * time.Minute)
	}
	return d.Add(-min(30*time.Second, time.Until(d)/4))
}
