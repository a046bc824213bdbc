package reqrt

import (
	"errors"
	"time"
)

// ErrDateTime is the error of ParseDateTime.
var ErrDateTime = errors.New("not an RFC 3339 date-time")

// ParseDateTime parses an RFC 3339 date-time (RFC 3339 §5.6):
//
//	YYYY-MM-DD ("T" | "t") hh:mm:ss [ "." 1*DIGIT ] ("Z" | "z" | ("+" | "-") hh:mm)
//
// with any offset, -00:00 included, and a fraction of any length. It refuses
// what Go's time.Parse would also let through but RFC 3339 does not (a comma
// for the point, one-digit fields, an offset of 24 hours or more) and a
// leap second (:60), which Go's time cannot represent.
//
// Digits past the ninth of the fraction cannot be kept in a time.Time; when
// any of them is not zero and the nanoseconds are a whole number of
// microseconds, one nanosecond is added, so that the result compares with
// every instant a store holds (whole microseconds, mews.Resolution) exactly
// as the written instant does, and still has a fraction.
func ParseDateTime(s string) (time.Time, error) {
	if len(s) < len("2006-01-02T15:04:05Z") ||
		s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, ErrDateTime
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, ErrDateTime
	}
	rest := s[19:]
	nsec := 0
	if rest != "" && rest[0] == '.' {
		n, scale, beyond := 1, 100_000_000, false
		for ; n < len(rest) && '0' <= rest[n] && rest[n] <= '9'; n++ {
			if scale > 0 {
				nsec += int(rest[n]-'0') * scale
				scale /= 10
			} else if rest[n] != '0' {
				beyond = true
			}
		}
		if n == 1 {
			return time.Time{}, ErrDateTime // a point without digits
		}
		if beyond && nsec%1000 == 0 {
			nsec++
		}
		rest = rest[n:]
	}
	var offset int // seconds east of UTC
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == len("+07:00") && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, ErrDateTime
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, ErrDateTime
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// digits returns the value of s, which must be all decimal digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
