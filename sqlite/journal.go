package sqlite

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

var _ mews.Journal = (*DB)(nil)

// The request journal of a SQLite store is not an SQLite database: it is
// written for every API request, and an SQLite row cost each entry some
// 35k instructions (database/sql's binding, the virtual machine, a B-tree
// and an index, a pwrite per page of answer), a tenth of a
// messageThreads/add (docs/BENCHMARKS.md, "The journal's cost, third
// round"). Each entry is encoded once (encodeRecord) and appended to a
// segment: a file beside the data file, unlinked as soon as it is created
// (so the journal leaves nothing behind, not even after a crash, and two
// processes on one data file have a journal each), written with one pwrite
// per batch and never synced; with an in-memory store, a buffer. What the
// filters and the order read is kept in memory as well (requestMeta, some
// 150 bytes an entry), so that a read finds its entries without reading
// the others' bodies. It is diagnostic, not durable, and starts empty.
//
// Entries are numbered (seq) in the order of recording, one recorder per
// process. The newest keep are visible; older ones leave the reads at once
// and the journal a segment at a time: a segment holds up to
// segmentEntries(keep) entries, and the oldest goes when the others hold
// keep.
type journal struct {
	mu   sync.RWMutex
	dir  string // where segment files go; "": in memory
	name string // their name's prefix
	segs []*segment
	last int64 // the largest seq; 0: none since the start or a clear
	keep int64 // of the last RequestsAdd
	held int   // entries in segs
	ops  map[string]string
	buf  []byte // RequestsAdd's
}

// segment is a run of entries in seq order: their records in f (or mem),
// where meta says.
type segment struct {
	f    *os.File // unlinked; nil: in memory
	mem  []byte
	size int64
	meta []requestMeta
}

// requestMeta is what the filters and the order read of an entry, and
// where its record is. Lists that could be long (the threads of a
// request) are kept only if short: more is in the record, and a filter of
// them reads it (full is false).
type requestMeta struct {
	seq         int64
	created     int64 // Unix microseconds
	id          uuid.UUID
	integration uuid.UUID
	hash        string // AccessTokenHash
	op          string
	status      int
	threads     []uuid.UUID
	full        bool // threads and op are the entry's
	off         int64
	n           int
}

// The longest operation (the path of an unknown one) and the most threads
// an entry's requestMeta holds; more is read from the record.
const (
	metaOperation = 128
	metaThreads   = 4
	// interned operations and tokens' hashes: the API's operations, the
	// tokens in use, and some unknown paths and tokens
	metaOperations = 1024
)

// segmentEntries is how many entries a segment holds at most (or one
// batch, if larger): a quarter of keep, so that the journal holds at most
// 1.25 keep (or keep + a batch) entries.
func segmentEntries(keep int64) int { return int(max(keep/4, 32)) }

// openJournal prepares the journal of the data at path (Memory: in memory).
func (db *DB) openJournal(_ context.Context, path string) error {
	j := &db.journal
	if path != Memory {
		j.dir, j.name = filepath.Dir(path), "."+filepath.Base(path)+"-requests-*"
	}
	j.ops = map[string]string{}
	return nil
}

func (db *DB) closeJournal() error {
	j := &db.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dropSegments(len(j.segs))
}

// dropSegments drops the n oldest segments.
func (j *journal) dropSegments(n int) error {
	var errs []error
	for _, s := range j.segs[:n] {
		j.held -= len(s.meta)
		if s.f != nil {
			errs = append(errs, s.f.Close())
		}
	}
	clear(j.segs[:n])
	j.segs = slices.Delete(j.segs, 0, n)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	return nil
}

// newSegment adds a segment for n entries to come: its meta is allocated
// once, not grown by copies (a segment of the default journal holds 2,500).
func (j *journal) newSegment(n int) (*segment, error) {
	s := &segment{meta: make([]requestMeta, 0, n)}
	if j.dir != "" {
		f, err := os.CreateTemp(j.dir, j.name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: create the request journal: %w", err)
		}
		if err := os.Remove(f.Name()); err != nil {
			return nil, errors.Join(fmt.Errorf("sqlite: create the request journal: %w", err), f.Close())
		}
		s.f = f
	}
	j.segs = append(j.segs, s)
	return s, nil
}

// journalChunk is how many bytes of records RequestsAdd writes at once.
const journalChunk = 256 << 10

// internBytes is intern of string(b): an access token's hash, shared by
// the entries of that token.
func (j *journal) internBytes(b []byte) string {
	if s, ok := j.ops[string(b)]; ok {
		return s
	}
	return j.add(string(b))
}

// intern returns op, shared by the entries of that operation.
func (j *journal) intern(op string) string {
	if s, ok := j.ops[op]; ok {
		return s
	}
	// A copy also when the table is full: op is a part of the request's
	// path, which is a part of its whole request line (up to a megabyte
	// of query), and requestMeta keeps it as long as the entry.
	return j.add(strings.Clone(op))
}

// add interns s, a string of its own, while the table has room.
func (j *journal) add(s string) string {
	if len(j.ops) < metaOperations {
		j.ops[s] = s
	}
	return s
}

// RequestsAdd records entries: their records in one write to the current
// segment. The oldest beyond keep leave the reads at once, and the journal
// a segment at a time.
func (db *DB) RequestsAdd(_ context.Context, entries []mews.Request, keep int) error {
	if len(entries) == 0 {
		return nil
	}
	j := &db.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	// A batch goes whole to a segment whose meta has room for it, else to
	// a new one: filling the last segment past its room grew its meta by
	// append, a copy of it and a quarter more (340 KB and 425 KB a
	// segment of the default journal, some 170 bytes an entry).
	var s *segment
	if n := len(j.segs); n > 0 && len(j.segs[n-1].meta)+len(entries) <= cap(j.segs[n-1].meta) {
		s = j.segs[n-1]
	} else {
		var err error
		if s, err = j.newSegment(max(segmentEntries(int64(keep)), len(entries))); err != nil {
			return err
		}
	}
	// With a file, the records go through j.buf, written out every
	// journalChunk bytes: a batch of pages is a megabyte, which need not
	// be in memory at once.
	metas, size := len(s.meta), s.size
	fail := func(err error) error {
		s.meta, s.size = s.meta[:metas], size
		return fmt.Errorf("sqlite: journal: %w", err)
	}
	buf := j.buf[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := s.f.WriteAt(buf, s.size)
		s.size += int64(len(buf))
		buf = buf[:0]
		return err
	}
	for i := range entries {
		e := &entries[i]
		m := requestMeta{
			seq: j.last + int64(i) + 1, created: mews.Instant(e.CreatedUTC).UnixMicro(), id: e.ID,
			integration: e.IntegrationID, status: e.Status, full: true,
		}
		if s.f != nil {
			m.off = s.size + int64(len(buf))
			buf = encodeRecord(buf, e)
			m.n = int(s.size + int64(len(buf)) - m.off)
		} else {
			m.off = s.size
			s.mem = encodeRecord(s.mem, e)
			s.size = int64(len(s.mem))
			m.n = int(s.size - m.off)
		}
		if e.AccessTokenHash != nil {
			m.hash = j.internBytes(e.AccessTokenHash)
		}
		if len(e.Operation) <= metaOperation {
			m.op = j.intern(e.Operation)
		} else {
			m.full = false
		}
		if len(e.ThreadIDs) <= metaThreads {
			if len(e.ThreadIDs) > 0 {
				m.threads = slices.Clone(e.ThreadIDs)
			}
		} else {
			m.full = false
		}
		s.meta = append(s.meta, m)
		if len(buf) >= journalChunk {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	if s.f != nil {
		if err := flush(); err != nil {
			return fail(err)
		}
	}
	j.buf = buf
	if cap(j.buf) > 4*journalChunk {
		j.buf = nil // grown by a large body: not kept for the next batch
	}
	j.last += int64(len(entries))
	j.held += len(entries)
	j.keep = int64(keep)
	// The oldest segment goes when the others hold keep entries.
	drop := 0
	for held := j.held; drop < len(j.segs)-1 && held-len(j.segs[drop].meta) >= keep; drop++ {
		held -= len(j.segs[drop].meta)
	}
	return j.dropSegments(drop)
}

// visible is the smallest seq of the newest keep entries.
func (j *journal) visible() int64 { return max(j.last-j.keep+1, 1) }

// record reads the record of m in s into e.
func (s *segment) record(m *requestMeta, e *mews.Request) error {
	var b []byte
	if s.f != nil {
		b = make([]byte, m.n)
		if _, err := s.f.ReadAt(b, m.off); err != nil {
			return fmt.Errorf("sqlite: journal: %w", err)
		}
	} else {
		b = s.mem[m.off : m.off+int64(m.n)]
	}
	return decodeRecord(b, e)
}

// matches says whether the entry of m matches f, reading its record if
// what f asks is not all in m.
func (s *segment) matches(m *requestMeta, f *mews.RequestFilter) (bool, error) {
	if len(f.IntegrationIDs) > 0 && (m.integration == uuid.Nil || !slices.Contains(f.IntegrationIDs, m.integration)) ||
		f.AccessTokenHash != nil && m.hash != string(f.AccessTokenHash) ||
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, m.status) ||
		f.Created != nil && (m.created < f.Created.Start.UnixMicro() || m.created > f.Created.End.UnixMicro()) ||
		len(f.IDs) > 0 && !slices.Contains(f.IDs, m.id) {
		return false, nil
	}
	op, threads := m.op, m.threads
	if !m.full && (len(f.Operations) > 0 || len(f.ThreadIDs) > 0) {
		var e mews.Request
		if err := s.record(m, &e); err != nil {
			return false, err
		}
		op, threads = e.Operation, e.ThreadIDs
	}
	if len(f.Operations) > 0 && !slices.Contains(f.Operations, op) {
		return false, nil
	}
	if len(f.ThreadIDs) > 0 && !slices.ContainsFunc(threads, func(id uuid.UUID) bool { return slices.Contains(f.ThreadIDs, id) }) {
		return false, nil
	}
	return true, nil
}

// found is an entry that a read found: its meta in its segment.
type found struct {
	s *segment
	m *requestMeta
}

// each calls fn for every visible entry that matches f, oldest first.
func (j *journal) each(f *mews.RequestFilter, fn func(found)) error {
	visible := j.visible()
	for _, s := range j.segs {
		for i := range s.meta {
			m := &s.meta[i]
			if m.seq < visible {
				continue
			}
			ok, err := s.matches(m, f)
			if err != nil {
				return err
			}
			if ok {
				fn(found{s, m})
			}
		}
	}
	return nil
}

// RequestsGetAll returns a page of the journal, newest first: by
// (CreatedUTC, seq).
func (db *DB) RequestsGetAll(_ context.Context, f mews.RequestFilter, p mews.Page) ([]mews.Request, error) {
	if err := checkCount(p.Count); err != nil {
		return nil, err
	}
	j := &db.journal
	j.mu.RLock()
	defer j.mu.RUnlock()
	after := func(found) bool { return true }
	if p.Cursor != nil {
		var at *requestMeta
		j.each(&mews.RequestFilter{IDs: []uuid.UUID{*p.Cursor}}, func(x found) { at = x.m }) // no record read
		if at == nil {
			return nil, mews.Errorf(mews.EINVALID, "Invalid Limitation.Cursor: %s is not the RequestId of an entry of the journal (it keeps the newest entries only, and requests/clear empties it).", *p.Cursor)
		}
		created, seq := at.created, at.seq
		after = func(x found) bool { return x.m.created < created || x.m.created == created && x.m.seq < seq }
	}
	var page []found
	err := j.each(&f, func(x found) {
		if after(x) {
			page = append(page, x)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(page, func(a, b found) int {
		return cmp.Or(cmp.Compare(b.m.created, a.m.created), cmp.Compare(b.m.seq, a.m.seq))
	})
	page = page[:min(len(page), p.Count)]
	out := make([]mews.Request, len(page))
	for i, x := range page {
		if err := x.s.record(x.m, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RequestsCount counts the entries that match f.
func (db *DB) RequestsCount(_ context.Context, f mews.RequestFilter) (int64, error) {
	j := &db.journal
	j.mu.RLock()
	defer j.mu.RUnlock()
	var n int64
	err := j.each(&f, func(found) { n++ })
	return n, err
}

// RequestsClear deletes every entry.
func (db *DB) RequestsClear(context.Context) error {
	j := &db.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	j.last = 0
	return j.dropSegments(len(j.segs))
}

// encodeRecord appends to b the whole of e but AccessTokenHash (which is
// for filters only, in requestMeta): the fields of requestMeta, then
// encodeEntry's.
func encodeRecord(b []byte, e *mews.Request) []byte {
	b = append(b, e.ID[:]...)
	b = binary.AppendVarint(b, mews.Instant(e.CreatedUTC).UnixMicro())
	b = append(binary.AppendUvarint(b, uint64(len(e.Operation))), e.Operation...)
	b = append(b, e.IntegrationID[:]...)
	b = binary.AppendVarint(b, int64(e.Status))
	b = binary.AppendUvarint(b, uint64(len(e.ThreadIDs)))
	for _, id := range e.ThreadIDs {
		b = append(b, id[:]...)
	}
	return encodeEntry(b, e)
}

// decodeRecord reads into e what encodeRecord wrote.
func decodeRecord(b []byte, e *mews.Request) error {
	r := recordReader{b: b}
	e.ID = r.id()
	e.CreatedUTC = time.UnixMicro(r.varint()).UTC()
	e.Operation = string(r.take(r.uvarint()))
	e.IntegrationID = r.id()
	e.Status = int(r.varint())
	e.ThreadIDs = r.ids()
	if !r.ok() {
		return fmt.Errorf("sqlite: journal: a record of %d bytes that is not one", len(b))
	}
	return decodeEntry(r.b, e)
}

// recordReader reads the values that encodeRecord and encodeEntry append.
// After its first failure (too few bytes) it reads only zero values, so a
// decoder reads on and asks ok once, and makes its error only then: a page
// of the journal decodes a record per entry.
type recordReader struct {
	b      []byte
	failed bool
}

func (r *recordReader) ok() bool { return !r.failed }

func (r *recordReader) take(n uint64) []byte {
	if r.failed || n > uint64(len(r.b)) {
		r.failed = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if r.failed || n <= 0 {
		r.failed = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if r.failed || n <= 0 {
		r.failed = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) id() uuid.UUID {
	var id uuid.UUID
	copy(id[:], r.take(16))
	return id
}

// ids reads a count and that many ids; a count the bytes cannot hold
// fails before anything is allocated.
func (r *recordReader) ids() []uuid.UUID {
	n := r.uvarint()
	if r.failed || n > uint64(len(r.b)/16) {
		r.failed = true
		return nil
	}
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = r.id()
	}
	return ids
}

// encodeEntry appends to b the fields of e that have no column of their
// own: a string is its length (uvarint) and bytes; a nil body has the
// length 0 and a bit of flags.
func encodeEntry(b []byte, e *mews.Request) []byte {
	var flags byte
	if e.Truncated {
		flags |= 1
	}
	if e.RequestBody != nil {
		flags |= 2
	}
	if e.ResponseBody != nil {
		flags |= 4
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(e.Duration.Microseconds()))
	b = binary.AppendUvarint(b, uint64(len(e.EnterpriseIDs)))
	for _, id := range e.EnterpriseIDs {
		b = append(b, id[:]...)
	}
	for _, s := range [...]*string{&e.Method, &e.IntegrationName, &e.AccessToken, &e.Message, e.RequestBody, e.ResponseBody} {
		if s == nil {
			b = append(b, 0)
			continue
		}
		b = append(binary.AppendUvarint(b, uint64(len(*s))), *s...)
	}
	return b
}

// decodeEntry reads into e what encodeEntry wrote.
func decodeEntry(b []byte, e *mews.Request) error {
	r := recordReader{b: b}
	flags := r.take(1)
	e.Duration = time.Duration(r.uvarint()) * time.Microsecond
	e.EnterpriseIDs = r.ids()
	var reqBody, resBody string
	for _, s := range [...]*string{&e.Method, &e.IntegrationName, &e.AccessToken, &e.Message, &reqBody, &resBody} {
		*s = string(r.take(r.uvarint()))
	}
	if !r.ok() || len(r.b) != 0 {
		return fmt.Errorf("sqlite: journal: an entry of %d bytes that is not one", len(b))
	}
	e.Truncated = flags[0]&1 != 0
	if flags[0]&2 != 0 {
		e.RequestBody = &reqBody
	}
	if flags[0]&4 != 0 {
		e.ResponseBody = &resBody
	}
	return nil
}
