package server

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func TestParseDateTime(t *testing.T) {
	at := func(nsec int) time.Time { return time.Date(2026, 12, 1, 19, 4, 3, nsec, time.UTC) }
	for s, want := range map[string]time.Time{
		"2026-12-01T19:04:03Z":                      at(0),
		"2026-12-01t19:04:03z":                      at(0),
		"2026-12-01t19:04:03Z":                      at(0),
		"2026-12-01T19:04:03+00:00":                 at(0),
		"2026-12-01T19:04:03-00:00":                 at(0),
		"2026-12-01T20:34:03+01:30":                 at(0),
		"2026-12-01T00:04:03-19:00":                 at(0),
		"2026-12-02T18:03:03+22:59":                 at(0),
		"2026-12-01T19:04:03.2Z":                    at(200_000_000),
		"2026-12-01T19:04:03.219219+00:00":          at(219_219_000),
		"2026-12-01T19:04:03.123456789z":            at(123_456_789),
		"2026-12-01T19:04:03.000Z":                  at(0),
		"2026-12-01T19:04:03.0000000000000Z":        at(0),
		"2026-12-01T19:04:03.1234567891Z":           at(123_456_789), // already between microseconds
		"2026-12-01T19:04:03.1230000001Z":           at(123_000_001), // kept between microseconds
		"2026-12-01T19:04:03.9999990000000001Z":     at(999_999_001),
		"2024-02-29T23:59:59Z":                      time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		"0000-01-01T00:00:00Z":                      time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		"9999-12-31T23:59:59.999999999Z":            time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		"2026-12-01T19:04:03.000000000000000Z":      at(0),
		"2026-12-01T19:04:03.500000000000001+00:00": at(500_000_001),
	} {
		got, err := parseDateTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseDateTime(%q) = %v (%v), %v; want %v in UTC", s, got, got.Location(), err, want)
		}
	}
	for _, s := range []string{
		"", "2026-12-01", "2026-12-01T19:04:03", "2026-12-01 19:04:03Z", "2026-12-01T19:04Z",
		"2026-12-01T19:04:03.Z", "2026-12-01T19:04:03,5Z", "2026-12-01T19:04:03.5", "2026-12-01T19:04:03ZZ",
		"2026-12-01T19:04:03+01", "2026-12-01T19:04:03+0100", "2026-12-01T19:04:03+24:00", "2026-12-01T19:04:03+01:60",
		"2026-12-01T19:04:03 +01:00", " 2026-12-01T19:04:03Z", "2026-12-01T19:04:03Z ", "2026-12-01T9:04:03Z",
		"2026-13-01T19:04:03Z", "2026-00-01T19:04:03Z", "2026-02-29T19:04:03Z", "2026-04-31T19:04:03Z",
		"2026-12-00T19:04:03Z", "2026-12-01T24:00:00Z", "2026-12-01T19:60:03Z", "2016-12-31T23:59:60Z",
		"+2026-12-01T19:04:03Z", "2026-12-01T19:04:03.5.5Z", "2026-12-01T19:04:03.-5Z", "2026-12-01T19:04:03.５Z",
		"2026-12-01X19:04:03Z", "2026/12/01T19:04:03Z", "2026-12-01T19:04:03UTC", "2026-12-01T19:04:03.5+01:00:00",
	} {
		if got, err := parseDateTime(s); err == nil {
			t.Errorf("parseDateTime(%q) = %v, want an error", s, got)
		}
	}
}

// Where Go's RFC 3339 parser and RFC 3339 agree (an uppercase T and Z, at
// most nine digits of fraction), parseDateTime finds the same instant; a
// lowercase spelling parses as the uppercase one.
func TestParseDateTimeAgreesWithGo(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 20000 {
		want := time.Unix(r.Int63n(253402300800), r.Int63n(1e9)).UTC() // 1970..9999
		digits := r.Intn(10)
		want = want.Truncate(time.Duration(pow10(9 - digits)))
		zone := time.UTC
		if r.Intn(2) == 0 {
			zone = time.FixedZone("", (r.Intn(47)-23)*3600+r.Intn(60)*60*(1-2*r.Intn(2)))
		}
		layout := "2006-01-02T15:04:05"
		if digits > 0 {
			layout += "." + strings.Repeat("0", digits)
		}
		layout += "Z07:00"
		s := want.In(zone).Format(layout)
		goT, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			continue // a year or an offset Go writes but does not read back
		}
		for _, form := range []string{s, strings.ToLower(s)} {
			got, err := parseDateTime(form)
			if err != nil || !got.Equal(goT) || !got.Equal(want) {
				t.Fatalf("parseDateTime(%q) = %v, %v; Go parses %v, want %v", form, got, err, goT, want)
			}
		}
	}
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}
