package reqrt

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The ways a generated decoder refuses a body. The server turns them into
// its error body (server/validate.go).
type (
	// SyntaxError: the body is not exactly one strict JSON value (RFC 8259,
	// as encoding/json's json.Valid reads it: no comments, no trailing
	// commas or data, at most MaxDepth levels of nesting).
	SyntaxError struct{ Offset int }
	// DuplicateError: a member name appears more than once in one object
	// (anywhere in the body, unknown members' values included).
	DuplicateError struct {
		Name   string // the member name, decoded
		Object string // the path of the object; "" is the body
	}
	// SchemaError: the body breaks rules of the schema; Violations as
	// Collect orders them, never empty.
	SchemaError struct{ Violations []Violation }
)

// ErrUnbindable: the body is valid against the schema but does not fit the
// generated type (an integer written with a fraction or an exponent, a
// date-time whose instant is outside years 0 to 9999), which the binder of
// the kin-openapi path also refuses.
var ErrUnbindable = errors.New("the request body does not fit the generated type")

func (e *SyntaxError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.Offset)
}

func (e *DuplicateError) Error() string {
	return "duplicate member name " + strconv.Quote(e.Name) + " in " + Subject(e.Object)
}

func (e *SchemaError) Error() string { return e.Violations[0].Message }

// MaxDepth is the deepest nesting of arrays and objects accepted, as
// encoding/json's.
const MaxDepth = 10000

// Kind is the kind of the next value, by its first byte.
type Kind uint8

// The kinds of JSON values; Invalid is none (a syntax error).
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// Decoder reads one body. The generated code drives it value by value:
// Peek says what comes, and each value is either read (ReadString,
// ReadNumber, OpenObject/Member, OpenArray/Item) or skipped (Skip). A fatal
// error (syntax, duplicate) stops everything: after it Failed is true and
// every reader returns zero values.
type Decoder struct {
	buf        []byte
	pos        int
	depth      int
	fatal      error
	violations []Violation // the first by path so far; see Violate
	bound      []byte      // when violations is full: the path of its last
	full       bool
	violated   bool
	unbindable bool
	path       []byte    // scratch: the path of a violation
	name       []byte    // the last member name read, decoded
	scratch    []byte    // unescaped strings
	segs       []segment // the path inside the value being skipped
}

// NewDecoder returns a decoder of body.
func NewDecoder(body []byte) Decoder { return Decoder{buf: body} }

// Failed reports a fatal error.
func (d *Decoder) Failed() bool { return d.fatal != nil }

// Violate records a broken rule of the value at p; ending completes the
// message (see TypeText and the other endings).
//
// Only the first MaxViolations by path are answered (Collect), and a body
// can break a rule per value: the decoder keeps at most 2*MaxViolations
// of them, and once it holds MaxViolations that are the first of all so
// far, a violation whose path sorts after theirs is dropped without a
// string of its own. What Finish returns is what Collect makes of all.
func (d *Decoder) Violate(p *Path, ending string) {
	d.violated = true
	d.path = p.append(d.path[:0])
	if d.full && string(d.path) >= string(d.bound) {
		// After the last of the first MaxViolations, or at its path and
		// checked later: not among the first.
		return
	}
	path := string(d.path)
	d.violations = append(d.violations, Violation{Property: path, Message: Subject(path) + ending})
	if len(d.violations) == 2*MaxViolations {
		d.violations = append(d.violations[:0], Collect(d.violations)...)
		if len(d.violations) == MaxViolations {
			d.full = true
			d.bound = append(d.bound[:0], d.violations[MaxViolations-1].Property...)
		}
	}
}

// Accepting reports whether the body can still be accepted: no fatal
// error, no violation, nothing unbindable so far. A decoder need not build
// a value that will be refused.
func (d *Decoder) Accepting() bool {
	return d.fatal == nil && !d.violated && !d.unbindable
}

// Missing records the required member key of the object at p as missing.
func (d *Decoder) Missing(p *Path, key string) {
	q := Path{Parent: p, Key: key}
	d.Violate(&q, TextRequired)
}

// Unbindable records a valid value that the generated type cannot hold.
func (d *Decoder) Unbindable() { d.unbindable = true }

// Duplicate records the member name key, seen twice in the object at p.
func (d *Decoder) Duplicate(p *Path, key string) { d.duplicate(p, nil, key) }

func (d *Decoder) duplicate(p *Path, segs []segment, key string) {
	if d.fatal == nil {
		d.fatal = &DuplicateError{Name: key, Object: pathString(p, segs)}
	}
}

func (d *Decoder) syntax() {
	if d.fatal == nil {
		d.fatal = &SyntaxError{Offset: d.pos}
	}
}

// Finish ends the body: only whitespace may follow the value. It returns
// the refusal, if any, in the order of precedence of the server: invalid
// JSON, then duplicate names, then schema violations, then unbindable.
func (d *Decoder) Finish() error {
	if d.fatal == nil {
		d.ws()
		if d.pos != len(d.buf) {
			d.syntax()
		}
	}
	switch {
	case d.fatal != nil:
		if _, dup := d.fatal.(*DuplicateError); dup && !json.Valid(d.buf) {
			// The decoder stopped at the duplicate; invalid JSON after it
			// takes precedence. (A cold path.)
			return &SyntaxError{Offset: d.pos}
		}
		return d.fatal
	case d.violated:
		return &SchemaError{Violations: Collect(d.violations)}
	case d.unbindable:
		return ErrUnbindable
	}
	return nil
}

func (d *Decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek skips whitespace and returns the kind of the next value.
func (d *Decoder) Peek() Kind {
	if d.fatal != nil {
		return Invalid
	}
	d.ws()
	if d.pos >= len(d.buf) {
		return Invalid
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == '"':
		return String
	case c == 'n':
		return Null
	case c == 't' || c == 'f':
		return Bool
	case c == '-' || ('0' <= c && c <= '9'):
		return Number
	}
	return Invalid
}

func (d *Decoder) literal(lit string) bool {
	if len(d.buf)-d.pos >= len(lit) && string(d.buf[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	d.syntax()
	return false
}

// ReadBool reads true or false.
func (d *Decoder) ReadBool() bool {
	if d.Peek() == Bool {
		if d.buf[d.pos] == 't' {
			return d.literal("true")
		}
		d.literal("false")
		return false
	}
	d.syntax()
	return false
}

// OpenObject consumes the '{' of an object; Member then walks its members.
func (d *Decoder) OpenObject() {
	if d.Peek() != Object {
		d.syntax()
		return
	}
	d.pos++
	d.depth++
	if d.depth > MaxDepth {
		d.syntax()
	}
}

// Member moves to the i-th member (from 0) of the object opened last and
// reads its name (Name) and the colon; false at the end of the object (its
// '}' consumed) or on a fatal error.
func (d *Decoder) Member(i int) bool {
	if d.fatal != nil {
		return false
	}
	d.ws()
	if d.pos >= len(d.buf) {
		d.syntax()
		return false
	}
	c := d.buf[d.pos]
	if c == '}' {
		d.pos++
		d.depth--
		return false
	}
	if i > 0 {
		if c != ',' {
			d.syntax()
			return false
		}
		d.pos++
		d.ws()
	}
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		d.syntax()
		return false
	}
	d.name = d.readString()
	d.ws()
	if d.fatal != nil || d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
		d.syntax()
		return false
	}
	d.pos++
	return true
}

// Name is the name of the current member, decoded; valid until the next
// string is read.
func (d *Decoder) Name() []byte { return d.name }

// OpenArray consumes the '[' of an array; Item then walks its items.
func (d *Decoder) OpenArray() {
	if d.Peek() != Array {
		d.syntax()
		return
	}
	d.pos++
	d.depth++
	if d.depth > MaxDepth {
		d.syntax()
	}
}

// Item moves to the i-th item (from 0) of the array opened last; false at
// its end (the ']' consumed) or on a fatal error.
func (d *Decoder) Item(i int) bool {
	if d.fatal != nil {
		return false
	}
	d.ws()
	if d.pos >= len(d.buf) {
		d.syntax()
		return false
	}
	c := d.buf[d.pos]
	if c == ']' {
		d.pos++
		d.depth--
		return false
	}
	if i > 0 {
		if c != ',' {
			d.syntax()
			return false
		}
		d.pos++
	}
	return true
}

// ReadString reads a string and returns it decoded as encoding/json does
// (invalid UTF-8 and lone surrogates become U+FFFD); the bytes are valid
// until the next string is read.
func (d *Decoder) ReadString() []byte {
	if d.Peek() != String {
		d.syntax()
		return nil
	}
	return d.readString()
}

// readString reads the string at d.pos (its opening quote).
func (d *Decoder) readString() []byte {
	start := d.pos + 1
	ascii := true
	for i := start; i < len(d.buf); i++ {
		switch c := d.buf[i]; {
		case c == '"':
			d.pos = i + 1
			s := d.buf[start:i]
			if !ascii && !utf8.Valid(s) {
				return d.unquote(start, i)
			}
			return s
		case c == '\\':
			return d.slowString(start)
		case c < 0x20:
			d.pos = i
			d.syntax()
			return nil
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	d.pos = len(d.buf)
	d.syntax()
	return nil
}

// slowString checks the escapes of the string from start and decodes it.
func (d *Decoder) slowString(start int) []byte {
	for i := start; i < len(d.buf); i++ {
		switch c := d.buf[i]; {
		case c == '"':
			d.pos = i + 1
			return d.unquote(start, i)
		case c == '\\':
			if i+1 >= len(d.buf) {
				d.pos = len(d.buf)
				d.syntax()
				return nil
			}
			switch d.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(d.buf) || hex4(d.buf[i+2:i+6]) < 0 {
					d.pos = i
					d.syntax()
					return nil
				}
				i += 5
			default:
				d.pos = i
				d.syntax()
				return nil
			}
		case c < 0x20:
			d.pos = i
			d.syntax()
			return nil
		}
	}
	d.pos = len(d.buf)
	d.syntax()
	return nil
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// getu4 decodes \uXXXX from the beginning of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	return hex4(s[2:6])
}

// unquote decodes the checked string body d.buf[start:end] into d.scratch,
// exactly as encoding/json's unquote does.
func (d *Decoder) unquote(start, end int) []byte {
	s := d.buf[start:end]
	b := d.scratch[:0]
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case '"', '\\', '/', '\'':
				b = append(b, s[r])
				r++
			case 'b':
				b = append(b, '\b')
				r++
			case 'f':
				b = append(b, '\f')
				r++
			case 'n':
				b = append(b, '\n')
				r++
			case 'r':
				b = append(b, '\r')
				r++
			case 't':
				b = append(b, '\t')
				r++
			case 'u':
				r--
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						break
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	d.scratch = b
	return b
}

// ReadNumber reads a number and returns its literal.
func (d *Decoder) ReadNumber() []byte {
	if d.Peek() != Number {
		d.syntax()
		return nil
	}
	b, start := d.buf, d.pos
	i := start
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		d.syntax()
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.pos = i
			d.syntax()
			return nil
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.pos = i
			d.syntax()
			return nil
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return b[start:i]
}

// Skip reads the next value, whatever it is, at path p (for the message of
// a duplicate member name inside it), checking only its syntax and its
// member names.
func (d *Decoder) Skip(p *Path) {
	d.segs = d.segs[:0]
	d.skip(p)
}

// skip skips the value at p and then d.segs.
func (d *Decoder) skip(p *Path) {
	switch d.Peek() {
	case Null:
		d.literal("null")
	case Bool:
		d.ReadBool()
	case Number:
		d.ReadNumber()
	case String:
		d.readString()
	case Array:
		d.OpenArray()
		for i := 0; d.Item(i); i++ {
			d.segs = append(d.segs, segment{index: i, item: true})
			d.skip(p)
			d.segs = d.segs[:len(d.segs)-1]
		}
	case Object:
		d.OpenObject()
		var names Names
		for i := 0; d.Member(i); i++ {
			key := names.add(d, p, d.segs, d.name)
			d.segs = append(d.segs, segment{key: key})
			d.skip(p)
			d.segs = d.segs[:len(d.segs)-1]
		}
	default:
		d.syntax()
	}
}

// Names are the names of the members of one object that the generated
// decoder does not know, kept to refuse duplicates among them.
type Names struct {
	list []string
	set  map[string]struct{}
}

// Add records name, the name of a member of the object at p (a duplicate
// is fatal), and returns it as a string.
func (n *Names) Add(d *Decoder, p *Path, name []byte) string {
	return n.add(d, p, nil, name)
}

// add is Add for the object at p and then segs.
func (n *Names) add(d *Decoder, p *Path, segs []segment, name []byte) string {
	if n.set != nil {
		if _, dup := n.set[string(name)]; dup {
			d.duplicate(p, segs, string(name))
			return ""
		}
		s := string(name)
		n.set[s] = struct{}{}
		return s
	}
	for _, s := range n.list {
		if s == string(name) {
			d.duplicate(p, segs, s)
			return ""
		}
	}
	s := string(name)
	n.list = append(n.list, s)
	if len(n.list) > 16 { // many unknown members: no quadratic search
		n.set = make(map[string]struct{}, 2*len(n.list))
		for _, x := range n.list {
			n.set[x] = struct{}{}
		}
		n.list = nil
	}
	return s
}
