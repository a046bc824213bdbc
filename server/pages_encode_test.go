package server

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/spec"
)

// The encoders of pages.go byte for byte against the standard library:
// every day of years 1 to 9999, instants across and beyond that range, ids,
// and strings against encoding/json's own bytes (not only the value they
// decode to).

// TestCivilDateEveryDay checks civilDate against time's calendar on every
// day that appendTime computes itself: 0001-01-01 to 9999-12-31, which
// holds every leap rule (1600, 1700, 1900, 2000, ...).
func TestCivilDateEveryDay(t *testing.T) {
	last := uint64((maxTimeSec - minTimeSec) / 86400)
	for d := uint64(0); d <= last; d++ {
		y, m, day := time.Unix(minTimeSec+int64(d)*86400, 0).UTC().Date()
		gy, gm, gd := civilDate(d)
		if int(gy) != y || time.Month(gm) != m || int(gd) != day {
			t.Fatalf("civilDate(%d) = %04d-%02d-%02d, want %04d-%02d-%02d", d, gy, gm, gd, y, m, day)
		}
	}
}

// TestAppendTimeEveryRange checks appendTime against AppendFormat at the
// ends of the range it computes itself, one second and one nanosecond
// either side, around the epoch and leap days, and at random instants over
// the whole range of years 1 to 9999 and beyond it, in any zone.
func TestAppendTimeEveryRange(t *testing.T) {
	var instants []time.Time
	for _, sec := range []int64{minTimeSec, maxTimeSec, 0, -86400, 951782400 /* 2000-02-29 */, -2203977600 /* 1900-03-01 */} {
		for _, d := range []time.Duration{-time.Second - 1, -time.Second, -1, 0, 1, time.Second - 1, time.Second} {
			instants = append(instants, time.Unix(sec, 0).Add(d))
		}
	}
	instants = append(instants, time.Time{}, time.Unix(-1, 999999999), time.Unix(1<<40, 0), time.Unix(-1<<40, 0))
	rng := rand.New(rand.NewPCG(2026, 12))
	zones := []*time.Location{time.UTC, time.FixedZone("", 14*3600), time.FixedZone("", -12*3600), time.FixedZone("", -(5*3600 + 30*60))}
	span := int64(maxTimeSec - minTimeSec)
	for range 200000 {
		sec := minTimeSec - span/10 + rng.Int64N(span+span/5)
		instants = append(instants, time.Unix(sec, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]))
	}
	for _, at := range instants {
		want := `"` + at.UTC().Format(spec.ResponseTimeLayout) + `"`
		if got := string(appendTime([]byte("x"), at)); got != "x"+want {
			t.Fatalf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
}

func TestAppendUUIDIsStringRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	for range 20000 {
		var id uuid.UUID
		for i := range id {
			id[i] = byte(rng.IntN(256))
		}
		if got, want := string(appendUUID([]byte("x"), id)), `x"`+id.String()+`"`; got != want {
			t.Fatalf("appendUUID = %s, want %s", got, want)
		}
	}
}

// jsonString is encoding/json's encoding of s, with \b and \f spelled
// \u0008 and \u000c as appendString (and the encoder before it) spells
// them; encoding/json writes them short since Go 1.22. Both are the same
// JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case 'b':
				out.WriteString(`\u0008`)
			case 'f':
				out.WriteString(`\u000c`)
			default:
				out.WriteByte('\\')
				out.WriteByte(b[i+1])
			}
			i++
			continue
		}
		out.WriteByte(b[i])
	}
	return out.String()
}

// TestAppendStringIsEncodingJSON checks appendString against the bytes of
// encoding/json (HTML escaping on, as json.Marshal and the generated
// models' encoding have it): every byte alone and at every place of a run
// longer than a word, every rune class (U+2028, U+2029, U+FFFD, surrogate
// halves, runes cut short), and random strings mostly plain.
func TestAppendStringIsEncodingJSON(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := string(appendString([]byte("x"), s)), "x"+jsonString(s); got != want {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, want)
		}
	}
	for _, s := range hostile {
		check(s)
	}
	runes := []string{"\u2028", "\u2029", "\ufffd", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x80", "\xf0\x9f\x8f", "é", "🏨", "\x7f", "\u0080", "\U0010ffff"}
	for c := range 256 {
		runes = append(runes, string([]byte{byte(c)}))
	}
	for _, r := range runes {
		for p := range 18 {
			w := "abcdefghijklmnopq"
			check(w[:p] + r + w[p:])
			check(r + w[:p] + r)
		}
	}
	rng := rand.New(rand.NewPCG(9, 13))
	for range 50000 {
		w := make([]byte, rng.IntN(40))
		for i := range w {
			w[i] = byte(0x20 + rng.IntN(0x60))
			switch rng.IntN(10) {
			case 0:
				w[i] = byte(rng.IntN(256))
			case 1:
				w = utf8.AppendRune(w[:i], rune(rng.IntN(0x110000)))[:len(w)]
			}
		}
		check(string(w))
	}
}

// FuzzAppendStringBytes: appendString writes encoding/json's bytes.
func FuzzAppendStringBytes(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), jsonString(s); got != want {
			t.Errorf("%q: got %s, encoding/json %s", s, got, want)
		}
	})
}
