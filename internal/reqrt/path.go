package reqrt

import "strconv"

// Path is where a value sits in the body: a member Key of the object at
// Parent, or the item Index of the array at Parent. The root is the nil
// *Path. The decoders keep their paths on the stack and render one only for
// a violation.
type Path struct {
	Parent *Path
	Key    string
	Index  int
	Item   bool // an array item: Index counts, Key does not
}

// String renders the path as the client wrote it: Messages[2].Text.
func (p *Path) String() string {
	if p == nil {
		return ""
	}
	return string(p.append(nil))
}

// append appends the rendering of p to b.
func (p *Path) append(b []byte) []byte {
	if p == nil {
		return b
	}
	b = p.Parent.append(b)
	return appendSegment(b, p.Key, p.Index, p.Item)
}

func appendSegment(b []byte, key string, index int, item bool) []byte {
	if item {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(index), 10)
		return append(b, ']')
	}
	// As the kin-openapi path renders JSON pointers: a key that reads as a
	// number is shown as an index.
	if isInt(key) {
		b = append(b, '[')
		b = append(b, key...)
		return append(b, ']')
	}
	if len(b) > 0 {
		b = append(b, '.')
	}
	return append(b, key...)
}

// PointerPath renders a JSON pointer as the client wrote it, as String
// renders a Path: ["Messages","2","Text"] is Messages[2].Text. (The
// kin-openapi path reports its violations by pointer.)
func PointerPath(pointer []string) string {
	var b []byte
	for _, key := range pointer {
		b = appendSegment(b, key, 0, false)
	}
	return string(b)
}

// segment is a step of a path inside a skipped value.
type segment struct {
	key   string
	index int
	item  bool
}

// pathString renders p followed by the segments.
func pathString(p *Path, segs []segment) string {
	b := p.append(nil)
	for _, s := range segs {
		b = appendSegment(b, s.key, s.index, s.item)
	}
	return string(b)
}

// isInt reports whether strconv.Atoi reads key, without the error that
// Atoi allocates for every other key.
func isInt(key string) bool {
	s := key
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if len(s) < 19 { // fits an int64
		return true
	}
	_, err := strconv.Atoi(key)
	return err == nil
}
