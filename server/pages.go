package server

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
)

// The 200 responses of the two getAll operations, up to 1000 items each,
// and of the two adds are written straight to the response with an
// append-based encoder: most of the cost of a page was encoding/json
// reflecting over the generated models and calling the marshalers of
// time.Time and uuid.UUID (and, on an add, a third of the allocations of
// the request). They produce the JSON of gen.MessageThreadResult,
// gen.MessageResult, gen.MessageThreadAddResult and gen.AddedMessageResult,
// which is what the tests compare them with and what response validation
// checks.

// threadsPage is the 200 response of messageThreads/getAll.
type threadsPage struct {
	requestID string
	threads   []mews.Thread
}

func (p threadsPage) VisitMessageThreadsGetAllResponse(w http.ResponseWriter) error {
	buf := getPageBuffer(64 + len(p.threads)*256)
	defer putPageBuffer(buf)
	b := *buf
	b = append(b, `{"MessageThreads":[`...)
	for i, t := range p.threads {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendThread(b, t)
	}
	b = append(b, `],"Cursor":`...)
	if n := len(p.threads); n > 0 {
		b = appendUUID(b, p.threads[n-1].ID)
	} else {
		b = append(b, "null"...)
	}
	*buf = append(b, "}\n"...)
	return writeJSON(w, p.requestID, *buf)
}

// messagesPage is the 200 response of messages/getAll.
type messagesPage struct {
	requestID string
	messages  []mews.Message
}

func (p messagesPage) VisitMessagesGetAllResponse(w http.ResponseWriter) error {
	buf := getPageBuffer(64 + len(p.messages)*256)
	defer putPageBuffer(buf)
	b := *buf
	b = append(b, `{"Messages":[`...)
	for i, m := range p.messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMessage(b, m)
	}
	b = append(b, `],"Cursor":`...)
	if n := len(p.messages); n > 0 {
		b = appendUUID(b, p.messages[n-1].ID)
	} else {
		b = append(b, "null"...)
	}
	*buf = append(b, "}\n"...)
	return writeJSON(w, p.requestID, *buf)
}

// pageBuffers holds the buffers of pages between requests: a page of 100
// is some 25 KB, allocated and cleared for every page otherwise. Write
// copies what it is given (io.Writer must not retain it), so a buffer goes
// back once the response is written.
var pageBuffers sync.Pool

// maxPooledPage bounds the buffers kept: a page of 1,000 long texts is
// let go.
const maxPooledPage = 256 << 10

// getPageBuffer returns an empty buffer of at least n bytes.
func getPageBuffer(n int) *[]byte {
	if p, ok := pageBuffers.Get().(*[]byte); ok {
		*p = slices.Grow((*p)[:0], n)
		return p
	}
	b := make([]byte, 0, n)
	return &b
}

func putPageBuffer(p *[]byte) {
	if cap(*p) <= maxPooledPage {
		pageBuffers.Put(p)
	}
}

// threadAdded is the 200 response of messageThreads/add.
type threadAdded struct {
	requestID string
	thread    mews.Thread
}

func (r threadAdded) VisitMessageThreadsAddResponse(w http.ResponseWriter) error {
	b := make([]byte, 0, 256+len(r.thread.OriginalSender)+len(r.thread.Subject))
	b = append(b, `{"MessageThreads":[`...)
	b = appendThread(b, r.thread)
	return writeJSON(w, r.requestID, append(b, "]}\n"...))
}

// messagesAdded is the 200 response of messages/add: the messages stored,
// each with the Identifier of its request item (nil: none).
type messagesAdded struct {
	requestID   string
	messages    []mews.Message
	identifiers []*string
}

func (r messagesAdded) VisitMessagesAddResponse(w http.ResponseWriter) error {
	n := 64
	for _, m := range r.messages {
		n += 256 + len(m.Text)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"Messages":[`...)
	for i, m := range r.messages {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Identifier":`...)
		if id := r.identifiers[i]; id != nil {
			b = appendString(b, *id)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"Message":`...)
		b = appendMessage(b, m)
		b = append(b, '}')
	}
	return writeJSON(w, r.requestID, append(b, "]}\n"...))
}

// appendThread appends the gen.MessageThread of t (threadOut).
func appendThread(b []byte, t mews.Thread) []byte {
	b = append(b, `{"Id":`...)
	b = appendUUID(b, t.ID)
	b = append(b, `,"OriginalSender":`...)
	b = appendString(b, t.OriginalSender)
	b = append(b, `,"Subject":`...)
	b = appendString(b, t.Subject)
	b = append(b, `,"CreatedUtc":`...)
	b = appendTime(b, t.CreatedUTC)
	b = append(b, `,"UpdatedUtc":`...)
	b = appendTime(b, t.UpdatedUTC)
	b = append(b, `,"IsResolved":`...)
	b = strconv.AppendBool(b, t.IsResolved)
	return append(b, '}')
}

// appendMessage appends the gen.Message of m (messageOut).
func appendMessage(b []byte, m mews.Message) []byte {
	b = append(b, `{"Id":`...)
	b = appendUUID(b, m.ID)
	b = append(b, `,"MessageThreadId":`...)
	b = appendUUID(b, m.ThreadID)
	b = append(b, `,"Text":`...)
	b = appendString(b, m.Text)
	b = append(b, `,"Sender":{"Discriminator":`...)
	switch m.Sender { // the two of the schema need no escaping
	case mews.SenderApplication:
		b = append(b, `"Application"`...)
	case mews.SenderEnterprise:
		b = append(b, `"Enterprise"`...)
	default:
		b = appendString(b, string(m.Sender))
	}
	b = append(b, `,"Value":null},"CreatedUtc":`...)
	b = appendTime(b, m.CreatedUTC)
	return append(b, '}')
}

// writeJSON writes a 200 with body. begin has set the Request-Id header
// of every response already; it is set here only when it is not that.
func writeJSON(w http.ResponseWriter, requestID string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if h.Get("Request-Id") != requestID {
		h.Set("Request-Id", requestID)
	}
	// With its length, net/http sends the body as it is, without chunks.
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// appendTime appends t as a JSON string in spec.ResponseTimeLayout, which is
// what t.UTC().AppendFormat(b, spec.ResponseTimeLayout) writes, without
// interpreting the layout for every instant (a tenth of the cost of a page
// was there), and the date from the Unix second in one computation
// (civilDate) rather than through Date and Clock. Years outside 1-9999,
// which the stores never hold, take AppendFormat.
func appendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec < minTimeSec || sec > maxTimeSec {
		b = append(b, '"')
		return append(t.UTC().AppendFormat(b, spec.ResponseTimeLayout), '"')
	}
	u := uint64(sec - minTimeSec) // seconds since 0001-01-01
	year, month, day := civilDate(u / 86400)
	sod := uint32(u % 86400)
	var s [22]byte
	s[0] = '"'
	put2(s[1:], year/100)
	put2(s[3:], year%100)
	s[5] = '-'
	put2(s[6:], month)
	s[8] = '-'
	put2(s[9:], day)
	s[11] = 'T'
	put2(s[12:], sod/3600)
	s[14] = ':'
	put2(s[15:], sod/60%60)
	s[17] = ':'
	put2(s[18:], sod%60)
	s[20], s[21] = 'Z', '"'
	return append(b, s[:]...)
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// put2 writes v (0-99) as two digits.
func put2(s []byte, v uint32) {
	s[0], s[1] = digitPairs[2*v], digitPairs[2*v+1]
}

// The Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
const (
	minTimeSec = -62135596800
	maxTimeSec = 253402300799
)

// civilDate returns the proleptic Gregorian date that is days after
// 0001-01-01 (days >= 0), by the civil-from-days computation of Howard
// Hinnant's date algorithms, counted from 0000-03-01 so that the leap day
// ends a year.
func civilDate(days uint64) (year, month, day uint32) {
	z := days + 306                                        // days since 0000-03-01
	era := z / 146097                                      // 400-year eras
	doe := uint32(z - era*146097)                          // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = uint32(era)*400 + yoe
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendUUID appends id as a JSON string in the canonical lower-case form.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var s [38]byte
	s[0], s[9], s[14], s[19], s[24], s[37] = '"', '-', '-', '-', '-', '"'
	// The two digits of each byte, at its place between the dashes,
	// written out: a loop costs twice the instructions.
	put := func(at int, c byte) { s[at], s[at+1] = hexPairs[c][0], hexPairs[c][1] }
	put(1, id[0])
	put(3, id[1])
	put(5, id[2])
	put(7, id[3])
	put(10, id[4])
	put(12, id[5])
	put(15, id[6])
	put(17, id[7])
	put(20, id[8])
	put(22, id[9])
	put(25, id[10])
	put(27, id[11])
	put(29, id[12])
	put(31, id[13])
	put(33, id[14])
	put(35, id[15])
	return append(b, s[:]...)
}

// appendUUIDText appends id in the canonical lower-case form, as
// uuid.UUID.String writes it: appendUUID's, without the quotes.
func appendUUIDText(b []byte, id uuid.UUID) []byte {
	var q [38]byte
	appendUUID(q[:0], id)
	return append(b, q[1:37]...)
}

// hexPairs holds the two lower-case hex digits of each byte.
var hexPairs = func() (t [256][2]byte) {
	const hexDigits = "0123456789abcdef"
	for i := range t {
		t[i] = [2]byte{hexDigits[i>>4], hexDigits[i&0xf]}
	}
	return t
}()

// plainByte tells the bytes that appendString copies as they are: ASCII
// but for control characters, quote, backslash, <, > and &.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string the way encoding/json does:
// quotes, backslashes and control characters escaped, <, > and & as
// \u escapes (safe inside HTML), U+2028 and U+2029 escaped (safe inside
// JavaScript), and invalid UTF-8 replaced by U+FFFD. Runs of eight plain
// bytes are recognised a word at a time.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if w := s[i:]; len(w) >= 8 {
			// Eight plain bytes? None has its high bit set (not
			// ASCII), none is below 0x20, none is one of " \ < > &:
			// the exact tests for "a byte below n" and "a byte equal
			// to c" of "Bit Twiddling Hacks", valid once every byte is
			// below 0x80. Written out: a function would not be inlined.
			const ones, highs = 0x0101010101010101, 0x8080808080808080
			x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
			q, bs, lt, gt, amp := x^(ones*'"'), x^(ones*'\\'), x^(ones*'<'), x^(ones*'>'), x^(ones*'&')
			if (x|(x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs|(lt-ones)&^lt|(gt-ones)&^gt|(amp-ones)&^amp)&highs == 0 {
				i += 8
				continue
			}
		}
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
