package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The request journal records every request to the Connector API (APIPrefix)
// and what it was answered, for the requests/* operations of the admin API.
// Recording costs the request path a copy of the first bytes of the
// response (what the journal keeps of it) as it passes through to the
// client, and a non-blocking send to a bounded queue; a full queue drops
// the entry and counts it. One goroutine masks the tokens of the queued
// entries and writes them in batches to the journal's store (mews.Journal),
// which keeps only the newest entries.

// DefaultJournal is how many entries the journal keeps by default.
const DefaultJournal = 10000

// APIPrefix is the path prefix of the Connector API: the requests the
// journal records.
const APIPrefix = "/api/connector/"

const (
	// Entries waiting to be written: about 150 ms of the bench's traffic,
	// three times what a batch lingers. Each holds up to 4 KiB of answer;
	// 4,096 of them cost some 4 MiB of resident memory more in make bench
	// (docs/BENCHMARKS.md) and only lengthened the queue ahead of a drop.
	defaultJournalQueue = 1024
	journalBatch        = 256 // entries per write of the store
	// How long the recorder waits for a batch to fill before it writes
	// what it has (a read of the journal does not wait for it: see sync).
	// A write costs mostly per batch (a transaction, a statement or a
	// round trip each), so batches of a few entries, one per wake-up,
	// would cost the API's traffic several times what full ones do.
	journalLinger = 50 * time.Millisecond
	// The bytes kept of each body: what the application sent matters
	// most; of an answer, the start tells (a page of items is cut), and
	// keeping whole pages would make the journal's writes cost more than
	// the pages themselves.
	journalRequestLimit  = 64 << 10
	journalResponseLimit = 4 << 10
	// The bytes of a response captured, and of a request queued, beyond
	// their limit, so that a token that crosses the limit is still masked
	// whole (masks are shorter).
	journalResponseMargin = 256
	// The bytes kept of the operation (the path of an unknown address:
	// up to a megabyte of request line) and of the error's Message (a
	// 404's names that path); a cut one is Truncated, as a body is.
	journalOperationLimit = 1 << 10
	journalMessageLimit   = 4 << 10
	// The bytes of the entries in flight (offered, not yet written: the
	// queue and the batch being written) that the recorder holds at most;
	// an entry beyond it is dropped and counted, as with a full queue.
	// The queue's 1,024 entries of up to 64 KiB of request body each
	// were 64 MiB; a full batch of pages is some 1.2 MiB.
	defaultJournalInFlight = 8 << 20
)

// recorder owns the journal's queue and the goroutine that empties it.
type recorder struct {
	store mews.Journal
	keep  int
	log   *slog.Logger

	queue    chan *pending
	flush    chan struct{} // a read waits: write what is queued now
	full     chan struct{} // the queue holds a batch: write it now
	quit     chan struct{}
	stopped  chan struct{}
	accepted atomic.Int64 // tickets given so far (takeTicket)
	dropped  atomic.Int64 // entries not recorded: queue or bytes in flight full, or the store failed
	inFlight atomic.Int64 // bytes of the entries offered and not yet written (pending.bytes)
	maxBytes int64        // the bound of inFlight

	// Entries are handled (written, failed or dropped) in about the order
	// of their tickets, not exactly: requests end in any order.
	mu       sync.Mutex
	done     int64              // every ticket up to done is handled
	ahead    map[int64]struct{} // tickets handled beyond done+1
	progress chan struct{}      // closed and replaced whenever done grows

	entries []mews.Request // the loop's, reused by every write
	tickets []int64        // likewise
}

// pending is an entry on its way to the store: what the request path knew,
// with the raw bodies and tokens that the recorder masks. It is also the
// capture of its request's response; pendings are recycled (pendingPool).
type pending struct {
	capture            // with its ticket
	scratch     []byte // finish's, kept by recycle
	entry       mews.Request
	body        []byte // the start of the request body as read; nil if it was not
	bodyCut     bool   // body is the start of a longer one (journalResponse)
	clientToken string // as sent (the handlers' validated values)
	accessToken string
	// accessDigest is the SHA-256 of accessToken when the token
	// configuration knows it (computed once, at configuration); nil: the
	// writer computes it.
	accessDigest *tokenKey
	messageCut   bool  // entry.Message is the start of a longer one
	bytes        int64 // what it holds, counted in recorder.inFlight
	// bodies are the strings that finish's entry points to (RequestBody,
	// ResponseBody), not one allocation each per entry; like the entry's
	// bodies, they last until recycle.
	bodies [2]string
}

// pendingSize is the size of a pending without what it points to.
const pendingSize = int64(unsafe.Sizeof(pending{}))

// size is the memory p holds while it is in flight: its buffers (the
// captured answer's, grown to the largest it held), the queued request
// body and the strings and ids of its entry.
func (p *pending) size() int64 {
	return pendingSize + int64(cap(p.kept)+cap(p.scratch)+cap(p.body)+len(p.entry.Operation)+len(p.entry.Message)+
		len(p.clientToken)+len(p.accessToken)+16*(len(p.entry.ThreadIDs)+len(p.entry.EnterpriseIDs)))
}

var pendingPool = sync.Pool{New: func() any { return new(pending) }}

// recycle clears p and returns it to the pool.
func (p *pending) recycle() {
	kept, scratch := p.kept[:0], p.scratch[:0]
	*p = pending{}
	p.kept, p.scratch = kept, scratch
	pendingPool.Put(p)
}

func newRecorder(store mews.Journal, keep, queue int, maxBytes int64, log *slog.Logger) *recorder {
	if queue <= 0 {
		queue = defaultJournalQueue
	}
	if maxBytes <= 0 {
		maxBytes = defaultJournalInFlight
	}
	r := &recorder{
		store: store, keep: keep, log: log, maxBytes: maxBytes,
		queue: make(chan *pending, queue), flush: make(chan struct{}, 1), full: make(chan struct{}, 1),
		quit: make(chan struct{}), stopped: make(chan struct{}),
		ahead: map[int64]struct{}{}, progress: make(chan struct{}),
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

// ticket gives c its ticket, when its answer starts: a read of the journal
// that follows an answer waits for its entry (sync), although the answer
// reaches the client as it is written, before the entry is queued. Not
// before the answer: a read would then wait for requests still arriving
// (a slow client's body) and answer none of them. Every ticket must be
// handled (offer).
func (c *capture) takeTicket() {
	if c.ticket == 0 && c.rec != nil { // nil: a capture of no journal (tests)
		c.ticket = c.rec.accepted.Add(1)
	}
}

// offer queues p without ever waiting; a full queue, or one that holds
// maxBytes with p, drops it.
func (r *recorder) offer(p *pending) {
	p.bytes = p.size()
	if r.reserve(p.bytes) {
		select {
		case r.queue <- p:
			if len(r.queue) >= journalBatch {
				select {
				case r.full <- struct{}{}: // wake the recorder: a batch is waiting
				default:
				}
			}
			return
		default:
		}
		r.inFlight.Add(-p.bytes)
	}
	r.dropped.Add(1)
	r.handled(p.ticket)
	p.recycle()
}

// reserve adds n to the bytes in flight if they stay within the bound.
// Never over it, even for a moment: an entry that does not fit, added and
// taken back, made the entries offered meanwhile look over the bound.
func (r *recorder) reserve(n int64) bool {
	for {
		cur := r.inFlight.Load()
		if cur+n > r.maxBytes {
			return false
		}
		if r.inFlight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// handled counts the entries of tickets as done and wakes the reads
// waiting for them.
func (r *recorder) handled(tickets ...int64) {
	r.mu.Lock()
	done := r.done
	for _, t := range tickets {
		if t != done+1 {
			r.ahead[t] = struct{}{}
			continue
		}
		done++
		for len(r.ahead) > 0 {
			if _, ok := r.ahead[done+1]; !ok {
				break
			}
			delete(r.ahead, done+1)
			done++
		}
	}
	if done != r.done {
		r.done = done
		close(r.progress)
		r.progress = make(chan struct{})
	}
	r.mu.Unlock()
}

func (r *recorder) loop() {
	defer close(r.stopped)
	batch := make([]*pending, 0, journalBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var reported int64
	for {
		if len(r.queue) == 0 {
			// Idle: the first entry wakes the recorder, the others wait in
			// the queue until the batch is full or has lingered.
			select {
			case p := <-r.queue:
				batch = append(batch, p)
			case <-r.flush:
				continue
			case <-r.quit:
				r.drain(batch)
				return
			}
		}
		if len(batch)+len(r.queue) < journalBatch {
			// Not one wake-up per entry (a receive here would be one:
			// the scheduler's work on both sides, per API request),
			// but one per batch: offer wakes the recorder when the
			// queue holds a batch.
			select {
			case <-r.full: // a wake-up for a batch written already
			default:
			}
			linger.Reset(journalLinger)
			select {
			case <-r.full:
			case <-linger.C:
			case <-r.flush:
			case <-r.quit:
			}
			linger.Stop()
		}
		for len(batch) < journalBatch && len(r.queue) > 0 {
			batch = append(batch, <-r.queue)
		}
		r.write(batch)
		clear(batch)
		batch = batch[:0]
		if d := r.dropped.Load(); d != reported {
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "request journal: entries dropped",
				slog.Int64("dropped_since_start", d),
				slog.String("why", "its queue (entries or bytes) was full or its store failed; the API requests were served as usual"))
			reported = d
		}
	}
}

// drain writes batch and what is queued, when the server stops.
func (r *recorder) drain(batch []*pending) {
	for {
		for len(batch) < journalBatch && len(r.queue) > 0 {
			batch = append(batch, <-r.queue)
		}
		if len(batch) == 0 {
			return
		}
		r.write(batch)
		batch = batch[:0]
	}
}

// write masks and stores one batch, then counts it as handled.
func (r *recorder) write(batch []*pending) {
	entries, tickets := r.entries[:0], r.tickets[:0]
	for _, p := range batch {
		entries = append(entries, p.finish())
		tickets = append(tickets, p.ticket)
	}
	r.entries, r.tickets = entries, tickets
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := r.store.RequestsAdd(ctx, entries, r.keep)
	cancel()
	clear(entries) // the bodies share the pendings' buffers (keepBody)
	var held int64
	for _, p := range batch {
		held += p.bytes
		p.recycle()
	}
	r.inFlight.Add(-held)
	if err != nil {
		r.dropped.Add(int64(len(batch)))
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "request journal: could not record entries",
			slog.Int("entries", len(batch)), slog.Any("error", err))
	}
	r.handled(tickets...)
}

// sync waits until every entry begun before it was called is handled, so
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
		case r.flush <- struct{}{}: // the recorder need not linger
		default:
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

// runeCut returns where to cut s, longer than limit, at most limit bytes
// in: before the character that crosses limit. Bytes that are not UTF-8
// are cut at limit (not backed off over: a run of continuation bytes
// would leave nothing).
func runeCut[S string | []byte](s S, limit int) int {
	for n := limit; n > 0 && n > limit-utf8.UTFMax; n-- {
		if utf8.RuneStart(s[n]) {
			return n
		}
	}
	return limit
}

// keepBody returns the first limit bytes of b, cut at a UTF-8 boundary,
// and whether it cut. cut says that b is already the start of a longer
// body, perhaps cut inside a character. The string shares b's memory, not
// a copy (4 KiB of a page's answer, for every entry, was a tenth of what
// the journal cost a page in garbage collection): b is a buffer of the
// entry's pending or a masked copy of one, and the pending is recycled
// only once the store has the entry (write), which keeps none of its
// strings (mews.Journal).
func keepBody(b []byte, limit int, cut bool) (string, bool) {
	n := len(b)
	if n > limit {
		n, cut = runeCut(b, limit), true
	} else if cut {
		for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:n]) {
					n = i
				}
				break
			}
		}
	}
	return unsafe.String(unsafe.SliceData(b), n), cut
}

// distinctIDs returns ids without repeats, never nil: ids itself if it
// has one (a page of messages names one thread).
func distinctIDs(ids []uuid.UUID) []uuid.UUID {
	switch len(ids) {
	case 0:
		return []uuid.UUID{}
	case 1:
		return ids
	}
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !containsID(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// capture passes the response through to the client and keeps a copy of
// its first bytes, what the journal keeps of it (and a margin to mask a
// token that crosses the limit).
type capture struct {
	http.ResponseWriter
	kept   []byte // at most journalResponseLimit + journalResponseMargin bytes
	cut    bool   // the response went on beyond kept
	rec    *recorder
	ticket int64 // its place in the order of answers (takeTicket); 0: none yet
}

func (c *capture) WriteHeader(code int) {
	c.takeTicket()
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	c.takeTicket()
	// kept grows as needed (and stays grown in the pool): the answers of
	// adds are a few hundred bytes.
	if room := journalResponseLimit + journalResponseMargin - len(c.kept); len(b) <= room {
		c.kept = append(c.kept, b...)
	} else {
		c.kept, c.cut = append(c.kept, b[:room]...), true
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// journalRequest starts the entry of a request to the Connector API: it
// swaps the response writer for the entry's capture. It returns nil when
// the journal is off or the request is not to the API.
func (s *Server) journalRequest(w *http.ResponseWriter, r *http.Request, info *requestInfo) *pending {
	if s.journal == nil || !strings.HasPrefix(r.URL.Path, APIPrefix) {
		return nil
	}
	info.received = s.clock()
	p := pendingPool.Get().(*pending)
	p.ResponseWriter, p.rec = *w, s.journal
	*w = &p.capture
	return p
}

// journalResponse completes the entry of the request, whose response has
// been written, and queues it. It puts the response writer back: p is the
// recorder's from then on.
func (s *Server) journalResponse(p *pending, w *http.ResponseWriter, r *http.Request, info *requestInfo, status int, took time.Duration) {
	*w = p.ResponseWriter
	// The path is masked (maskPath), so it is cut as it is kept; the
	// Message is masked by the recorder, so a margin is queued with it.
	op, opCut := queuedString(strings.TrimPrefix(s.tokens.maskPath(r.URL.Path, status), APIPrefix+"v1/"), journalOperationLimit)
	message, messageCut := queuedString(info.err, journalMessageLimit+journalResponseMargin)
	p.entry = mews.Request{
		ID:            info.uuid,
		CreatedUTC:    info.received,
		Method:        r.Method,
		Operation:     op,
		IntegrationID: info.integrationID,
		EnterpriseIDs: info.enterprises,
		AccessToken:   info.accessToken,
		Status:        status,
		Duration:      took,
		Message:       message,
		ThreadIDs:     info.threads,
		Truncated:     opCut,
	}
	p.messageCut = messageCut
	if info.integrationID != uuid.Nil {
		p.entry.IntegrationName = info.integration
	}
	p.body, p.clientToken, p.accessToken = info.body, info.clientToken, info.rawAccessToken
	p.accessDigest = info.accessDigest
	p.body, p.bodyCut = queuedBody(p.body)
	p.takeTicket() // if the handler wrote nothing
	s.journal.offer(p)
}

// queuedString is what the queue holds of s: its first limit bytes, cut
// at a UTF-8 boundary, as a copy so that the rest can go; cut says that it
// is the start of s.
func queuedString(s string, limit int) (_ string, cut bool) {
	if len(s) <= limit {
		return s, false
	}
	return strings.Clone(s[:runeCut(s, limit)]), true
}

// queuedBody is what the queue holds of a request body b: no more than the
// journal keeps, and a margin to mask a token that crosses the limit whole,
// rather than up to the body limit (8 MiB) per entry; a copy, so that the
// rest can go. cut says that it is the start of b.
func queuedBody(b []byte) (_ []byte, cut bool) {
	if keep := journalRequestLimit + journalResponseMargin; len(b) > keep {
		return append([]byte(nil), b[:keep]...), true
	}
	return b, false
}
