package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestNewIDIsVersion7AndGrows: newID's ids are version 7 UUIDs of the RFC
// variant whose first 48 bits are the milliseconds of their creation, and
// each is greater than the one before, also within one millisecond.
func TestNewIDIsVersion7AndGrows(t *testing.T) {
	s := &Server{}
	before := time.Now().UnixMilli()
	prev := s.newID()
	seen := map[uuid.UUID]bool{prev: true}
	for range 100_000 {
		id := s.newID()
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d, variant %s", id, id.Version(), id.Variant())
		}
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("%s after %s: not greater", id, prev)
		}
		if seen[id] {
			t.Fatalf("%s twice", id)
		}
		seen[id] = true
		prev = id
	}
	after := time.Now().UnixMilli()
	sec, nsec := prev.Time().UnixTime()
	// A burst may run ahead of the clock by its sequence (4,096 a
	// millisecond), never behind it.
	if ms := sec*1000 + nsec/1e6; ms < before || ms > after+100 {
		t.Errorf("last id's time %d ms, made between %d and %d", ms, before, after)
	}
}
