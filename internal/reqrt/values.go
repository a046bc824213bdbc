package reqrt

import (
	"math"
	"strconv"
)

// Float is the value of a number literal as the kin-openapi path reads it
// (json.Number.Float64); false when it does not fit a float64, which that
// path reports as a value of the wrong type.
func Float(lit []byte) (float64, bool) {
	if len(lit) <= 15 {
		var n int64
		plain := len(lit) > 0
		for _, c := range lit {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain { // exact in a float64
			return float64(n), true
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

// IsInt reports whether the finite f is a whole number.
func IsInt(f float64) bool { return f == math.Trunc(f) }

// Int is the value of an integer literal as the binder of the kin-openapi
// path reads it into a Go integer of the size bits (strconv.ParseInt):
// false for a fraction or an exponent, even a whole one, and for overflow.
func Int(lit []byte, bits int) (int64, bool) {
	if len(lit) <= 18 {
		neg := len(lit) > 0 && lit[0] == '-'
		digits := lit
		if neg {
			digits = lit[1:]
		}
		var n int64
		plain := len(digits) > 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			if neg {
				n = -n
			}
			if bits < 64 && (n < -1<<(bits-1) || n > 1<<(bits-1)-1) {
				return 0, false
			}
			return n, true
		}
	}
	n, err := strconv.ParseInt(string(lit), 10, bits)
	return n, err == nil
}

// UUID parses the canonical textual form of a UUID, any version
// (8-4-4-4-12 hexadecimal digits, either case): the uuid format of the
// server's documents.
func UUID(s []byte) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Bindable reports whether the instant parsed from a date-time fits the
// generated type as the kin-openapi path binds it (Go's RFC 3339, four
// digits of year, in UTC).
func Bindable(year int) bool { return 0 <= year && year <= 9999 }

// IntFormat reports whether the number f passes the integer format of the
// size bits (int32, int64) as kin-openapi checks it: truncated to an int64,
// within the range of the size.
func IntFormat(f float64, bits int) bool {
	var v int64
	switch {
	case f == float64(math.MaxInt64): // rounds up to 2^63
		v = math.MaxInt64
	case f >= float64(math.MinInt64) && f < float64(math.MaxInt64):
		v = int64(f)
	default:
		return false
	}
	return bits >= 64 || (-1<<(bits-1) <= v && v <= 1<<(bits-1)-1)
}
