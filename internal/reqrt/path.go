package reqrt

import (
	"strconv"
	"strings"
)

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
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *Path) write(b *strings.Builder) {
	if p.Parent != nil {
		p.Parent.write(b)
	}
	writeSegment(b, p.Key, p.Index, p.Item)
}

func writeSegment(b *strings.Builder, key string, index int, item bool) {
	if item {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(index))
		b.WriteByte(']')
		return
	}
	// As the kin-openapi path renders JSON pointers: a key that reads as a
	// number is shown as an index.
	if _, err := strconv.Atoi(key); err == nil {
		b.WriteString("[" + key + "]")
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
}

// PointerPath renders a JSON pointer as the client wrote it, as String
// renders a Path: ["Messages","2","Text"] is Messages[2].Text. (The
// kin-openapi path reports its violations by pointer.)
func PointerPath(pointer []string) string {
	var b strings.Builder
	for _, key := range pointer {
		writeSegment(&b, key, 0, false)
	}
	return b.String()
}

// segment is a step of a path inside a skipped value.
type segment struct {
	key   string
	index int
	item  bool
}

// pathString renders p followed by the segments.
func pathString(p *Path, segs []segment) string {
	var b strings.Builder
	if p != nil {
		p.write(&b)
	}
	for _, s := range segs {
		writeSegment(&b, s.key, s.index, s.item)
	}
	return b.String()
}
