package console

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The live views follow one server-sent event stream: an event "change"
// after every change of the data (coalesced: at most one per
// eventInterval), whereupon the page fetches itself again and replaces its
// live regions. The stream ends with its request (the server's request
// timeout) or when the server stops; the browser's EventSource then
// reconnects by itself after the retry interval, and Last-Event-ID (or, on
// the first connection, the generation the page was rendered at, "since")
// tells whether it missed a change meanwhile.

const (
	eventInterval = 200 * time.Millisecond
	retryMillis   = 500
	heartbeat     = 15 * time.Second
)

func (c *console) events(w http.ResponseWriter, r *http.Request, _ *session) {
	sub, unsubscribe := c.cfg.Changes.Subscribe()
	defer unsubscribe()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(msg string) bool {
		// A stream outlives the server's write timeout: each write gets
		// its own deadline.
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		if _, err := fmt.Fprint(w, msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	change := func() bool {
		n := c.cfg.Changes.Generation()
		return send("id: " + strconv.FormatUint(n, 10) + "\nevent: change\ndata: " + strconv.FormatUint(n, 10) + "\n\n")
	}
	if !send("retry: " + strconv.Itoa(retryMillis) + "\n: connected\n\n") {
		return
	}
	// The last event the browser saw, or the generation of its page.
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("since")
	}
	if last != "" && last != strconv.FormatUint(c.cfg.Changes.Generation(), 10) {
		if !change() {
			return
		}
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.cfg.Stopping:
			return
		case <-beat.C:
			if !send(": heartbeat\n\n") {
				return
			}
		case <-sub:
			if !change() {
				return
			}
			// Coalesce a burst of writes into one refresh of the page.
			select {
			case <-r.Context().Done():
				return
			case <-time.After(eventInterval):
			}
		}
	}
}
