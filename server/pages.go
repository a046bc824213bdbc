package server

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

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
	b := make([]byte, 0, 64+len(p.threads)*256)
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
	return writeJSON(w, p.requestID, append(b, "}\n"...))
}

// messagesPage is the 200 response of messages/getAll.
type messagesPage struct {
	requestID string
	messages  []mews.Message
}

func (p messagesPage) VisitMessagesGetAllResponse(w http.ResponseWriter) error {
	b := make([]byte, 0, 64+len(p.messages)*256)
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
	return writeJSON(w, p.requestID, append(b, "}\n"...))
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
	b = appendString(b, string(m.Sender))
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
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// appendTime appends t as a JSON string in ResponseTimeLayout, which is
// what t.UTC().AppendFormat(b, ResponseTimeLayout) writes, without
// interpreting the layout for every instant (a tenth of the cost of a page
// was there). Years outside 0-9999, which the stores never hold, take
// AppendFormat.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		return append(t.AppendFormat(b, ResponseTimeLayout), '"')
	}
	hour, minute, sec := t.Clock()
	var s [22]byte
	s[0] = '"'
	s[1], s[2], s[3], s[4] = byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10)
	s[5] = '-'
	s[6], s[7] = byte('0'+month/10), byte('0'+month%10)
	s[8] = '-'
	s[9], s[10] = byte('0'+day/10), byte('0'+day%10)
	s[11] = 'T'
	s[12], s[13] = byte('0'+hour/10), byte('0'+hour%10)
	s[14] = ':'
	s[15], s[16] = byte('0'+minute/10), byte('0'+minute%10)
	s[17] = ':'
	s[18], s[19] = byte('0'+sec/10), byte('0'+sec%10)
	s[20], s[21] = 'Z', '"'
	return append(b, s[:]...)
}

// appendUUID appends id as a JSON string in the canonical lower-case form.
func appendUUID(b []byte, id uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	var s [38]byte
	s[0], s[37] = '"', '"'
	j := 1
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return append(b, s[:]...)
}

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
// JavaScript), and invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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
