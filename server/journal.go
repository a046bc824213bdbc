package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The request journal records every request to the Connector API (APIPrefix)
// and what it was answered, for the requests/* operations of the admin API.
// Recording costs the request path only a copy of the response (kept in a
// buffer until the entry is queued) and a non-blocking send to a bounded
// queue; a full queue drops the entry and counts it. One goroutine masks
// the tokens of the queued entries and writes them in batches to the
// journal's store (mews.Journal), then keeps only the newest entries.

// DefaultJournal is how many entries the journal keeps by default.
const DefaultJournal = 10000

// APIPrefix is the path prefix of the Connector API: the requests the
// journal records.
const APIPrefix = "/api/connector/"

const (
	defaultJournalQueue = 4096 // entries waiting to be written
	journalBatch        = 256  // entries per write of the store
	// The bytes kept of each body: what the application sent matters
	// most; of an answer, the start tells (a page of items is cut), and
	// keeping whole pages would make the journal's writes cost more than
	// the pages themselves.
	journalRequestLimit  = 64 << 10
	journalResponseLimit = 4 << 10
)

// recorder owns the journal's queue and the goroutine that empties it.
type recorder struct {
	store mews.Journal
	keep  int
	log   *slog.Logger

	queue    chan *pending
	quit     chan struct{}
	stopped  chan struct{}
	accepted atomic.Int64 // entries queued so far
	dropped  atomic.Int64 // entries not recorded: queue full, or the store failed

	mu       sync.Mutex
	done     int64         // entries taken from the queue and handled
	progress chan struct{} // closed and replaced whenever done grows
}

// pending is an entry on its way to the store: what the request path knew,
// with the raw bodies and tokens that the recorder masks.
type pending struct {
	entry       mews.Request
	body        []byte        // the request body as read; nil if it was not
	response    *bytes.Buffer // the response body; from bufferPool
	refs        atomic.Int32  // holders of response: the request path, the recorder
	clientToken string        // as sent (the handlers' validated values)
	accessToken string
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func newRecorder(store mews.Journal, keep, queue int, log *slog.Logger) *recorder {
	if queue <= 0 {
		queue = defaultJournalQueue
	}
	r := &recorder{
		store: store, keep: keep, log: log,
		queue: make(chan *pending, queue), quit: make(chan struct{}), stopped: make(chan struct{}),
		progress: make(chan struct{}),
	}
	go r.loop()
	return r
}

// stop writes what is queued and ends the goroutine. Entries offered after
// stop stay in the queue, unwritten.
func (r *recorder) stop() {
	if r == nil {
		return
	}
	close(r.quit)
	<-r.stopped
}

// offer queues p without ever waiting; a full queue drops it.
func (r *recorder) offer(p *pending) {
	select {
	case r.queue <- p:
		r.accepted.Add(1)
	default:
		r.dropped.Add(1)
		release(p)
	}
}

// release gives up one holder's use of p.response; the last one returns
// the buffer to the pool.
func release(p *pending) {
	if p.refs.Add(-1) == 0 {
		p.response.Reset()
		bufferPool.Put(p.response)
	}
}

func (r *recorder) loop() {
	defer close(r.stopped)
	batch := make([]*pending, 0, journalBatch)
	var reported int64
	for {
		select {
		case p := <-r.queue:
			batch = append(batch[:0], p)
		case <-r.quit:
			for {
				batch = batch[:0]
				for len(batch) < journalBatch && len(r.queue) > 0 {
					batch = append(batch, <-r.queue)
				}
				if len(batch) == 0 {
					return
				}
				r.write(batch)
			}
		}
	more:
		for len(batch) < journalBatch {
			select {
			case p := <-r.queue:
				batch = append(batch, p)
			default:
				break more
			}
		}
		r.write(batch)
		if d := r.dropped.Load(); d != reported {
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "request journal: entries dropped",
				slog.Int64("dropped_since_start", d),
				slog.String("why", "its queue was full or its store failed; the API requests were served as usual"))
			reported = d
		}
	}
}

// write masks and stores one batch, then counts it as handled.
func (r *recorder) write(batch []*pending) {
	entries := make([]mews.Request, len(batch))
	for i, p := range batch {
		entries[i] = p.finish()
		release(p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := r.store.RequestsAdd(ctx, entries, r.keep)
	cancel()
	if err != nil {
		r.dropped.Add(int64(len(batch)))
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "request journal: could not record entries",
			slog.Int("entries", len(batch)), slog.Any("error", err))
	}
	r.mu.Lock()
	r.done += int64(len(batch))
	close(r.progress)
	r.progress = make(chan struct{})
	r.mu.Unlock()
}

// sync waits until every entry queued before it was called is handled, so
// that a read of the journal sees every request this process answered
// before the read arrived.
func (r *recorder) sync(ctx context.Context) error {
	target := r.accepted.Load()
	for {
		r.mu.Lock()
		done, progress := r.done, r.progress
		r.mu.Unlock()
		if done >= target {
			return nil
		}
		select {
		case <-progress:
		case <-r.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finish masks what p holds and returns the entry to store.
func (p *pending) finish() mews.Request {
	e := p.entry
	var secrets []string
	for _, tok := range []string{p.clientToken, p.accessToken} {
		if len(tok) >= minSecretLen {
			secrets = append(secrets, tok)
		}
	}
	if p.body != nil {
		body, access := maskTokenProperties(p.body)
		if p.accessToken == "" && access != "" {
			// Refused before authentication: what the body said.
			p.accessToken = access
			e.AccessToken = MaskToken(access)
		}
		e.RequestBody, e.Truncated = keepBody(maskSecrets(body, secrets), journalRequestLimit)
	}
	if p.accessToken != "" {
		h := sha256.Sum256([]byte(p.accessToken))
		e.AccessTokenHash = h[:]
	}
	if p.response.Len() > 0 {
		var cut bool
		e.ResponseBody, cut = keepBody(maskSecrets(p.response.Bytes(), secrets), journalResponseLimit)
		e.Truncated = e.Truncated || cut
	}
	e.Message = string(maskSecrets([]byte(e.Message), secrets))
	e.ThreadIDs = distinctIDs(e.ThreadIDs)
	if e.EnterpriseIDs == nil {
		e.EnterpriseIDs = []uuid.UUID{}
	}
	return e
}

// minSecretLen is the shortest token that is masked wherever it appears;
// shorter ones (possible in a config file) are masked where they are
// properties of the body only, lest every "a" of a body be masked.
const minSecretLen = 8

// keepBody returns the first limit bytes of b, cut at a UTF-8 boundary,
// and whether it cut.
func keepBody(b []byte, limit int) (*string, bool) {
	cut := false
	if len(b) > limit {
		n := limit
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		b, cut = b[:n], true
	}
	s := string(b)
	return &s, cut
}

// maskSecrets replaces every occurrence of the secrets in b by their masks.
func maskSecrets(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(MaskToken(s)))
		}
	}
	return b
}

// maskTokenProperties masks the string value of every property whose name
// contains "token" in any case (ClientToken, AccessToken, and their
// misspellings, which the API ignores but the journal must not show), in
// one pass over b; b need not be valid JSON. It returns the value of the
// property AccessToken, if any, unmasked.
func maskTokenProperties(b []byte) (masked []byte, accessToken string) {
	var out []byte // a copy, made at the first mask
	last := 0
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end := stringEnd(b, start)
		if end < 0 {
			break
		}
		i = end + 1
		key := b[start+1 : end]
		colon := skipSpace(b, end+1)
		if colon >= len(b) || b[colon] != ':' || !containsFold(key, "token") {
			continue
		}
		v := skipSpace(b, colon+1)
		if v >= len(b) || b[v] != '"' {
			continue
		}
		vend := stringEnd(b, v)
		if vend < 0 {
			break
		}
		value := b[v+1 : vend]
		mask := "****"
		if bytes.IndexByte(value, '\\') < 0 {
			mask = MaskToken(string(value))
			if string(key) == "AccessToken" {
				accessToken = string(value)
			}
		}
		out = append(append(append(out, b[last:v+1]...), mask...), '"')
		last, i = vend+1, vend+1
	}
	if out == nil {
		return b, accessToken
	}
	return append(out, b[last:]...), accessToken
}

// stringEnd returns the index of the quote that ends the JSON string that
// starts at b[start], or -1.
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(string(s[i:i+len(sub)]), sub) {
			return true
		}
	}
	return false
}

func distinctIDs(ids []uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !containsID(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// capture holds the response body of a recorded request until its entry
// is queued, then writes it: a client that has its answer finds the
// request in the journal (see recorder.sync).
type capture struct {
	http.ResponseWriter
	buf *bytes.Buffer
}

func (c *capture) Write(b []byte) (int, error) { return c.buf.Write(b) }

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// journalRequest starts the entry of a request to the Connector API: it
// swaps the response writer for a capture. It returns nil when the journal
// is off or the request is not to the API.
func (s *Server) journalRequest(w *http.ResponseWriter, r *http.Request, info *requestInfo) *capture {
	if s.journal == nil || !strings.HasPrefix(r.URL.Path, APIPrefix) {
		return nil
	}
	info.received = s.clock()
	c := &capture{ResponseWriter: *w, buf: bufferPool.Get().(*bytes.Buffer)}
	*w = c
	return c
}

// journalResponse queues the entry of the request, then writes the held
// response.
func (s *Server) journalResponse(c *capture, r *http.Request, info *requestInfo, status int, took time.Duration) error {
	p := &pending{
		entry: mews.Request{
			ID:            info.uuid,
			CreatedUTC:    info.received,
			Method:        r.Method,
			Operation:     strings.TrimPrefix(r.URL.Path, APIPrefix+"v1/"),
			IntegrationID: info.integrationID,
			EnterpriseIDs: info.enterprises,
			AccessToken:   info.accessToken,
			Status:        status,
			Duration:      took,
			Message:       info.err,
			ThreadIDs:     info.threads,
		},
		body:        info.body,
		response:    c.buf,
		clientToken: info.clientToken,
		accessToken: info.rawAccessToken,
	}
	if info.integrationID != uuid.Nil {
		p.entry.IntegrationName = info.integration
	}
	// Queued before the answer leaves, so that a read of the journal that
	// follows the answer waits for the entry; the recorder only reads the
	// buffer, and the last of the two to let go of it recycles it.
	p.refs.Store(2)
	s.journal.offer(p)
	var err error
	if c.buf.Len() > 0 {
		_, err = c.ResponseWriter.Write(c.buf.Bytes())
	}
	release(p)
	return err
}
