// Package reqrt is the runtime of the request decoders generated from the
// spec (gen/requests.gen.go, written by internal/reqgen): a strict one-pass
// JSON scanner, the date-time and UUID parsers, and the violations that an
// invalid body is refused with. The texts of the violations live here, so
// that the generated decoders and the kin-openapi path of the server
// (server/validate.go) say the same thing.
package reqrt

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Violation is one broken schema rule, as reported in an error's Details.
type Violation struct {
	Property string `json:"Property"`
	Message  string `json:"Message"`
}

// MaxViolations is the most violations that a refused body is answered
// with: the first by property path. A body breaks at most as many rules as
// it has values, and an 8 MiB body can have a million of them; the answer,
// and what is kept to write it, stay small.
const MaxViolations = 100

// Collect returns the violations as a body is refused with them: the first
// of each property and message only, ordered by property path (stably, so
// that the rules broken at one path keep the order in which they were
// checked), at most MaxViolations of them.
func Collect(list []Violation) []Violation {
	type key struct{ property, message string }
	out := list[:0:0]
	seen := make(map[key]bool, len(list))
	for _, v := range list {
		if k := (key{v.Property, v.Message}); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Property < out[j].Property })
	if len(out) > MaxViolations {
		out = out[:MaxViolations:MaxViolations]
	}
	return out
}

// Subject is how a message names the value at path.
func Subject(path string) string {
	if path == "" {
		return "The request body"
	}
	return path
}

// The endings of the messages: a message is Subject(path) + ending.
const (
	TextRequired = " is required."
	TextNotNull  = " must not be null."
	TextInvalid  = " is invalid."
)

// TypeText is the ending for a value that is not of the JSON Schema type t
// ("" when the schema names none).
func TypeText(t string) string {
	switch t {
	case "":
		return " must be a valid value."
	case "integer":
		return " must be an integer."
	case "object":
		return " must be an object."
	case "array":
		return " must be an array."
	}
	return " must be a " + t + "."
}

// MinLengthText is the ending for a string shorter than min characters.
func MinLengthText(min uint64) string {
	if min == 1 {
		return " must not be empty."
	}
	return fmt.Sprintf(" must be at least %d characters long.", min)
}

// MaxLengthText is the ending for a string longer than max characters.
func MaxLengthText(max uint64) string {
	return fmt.Sprintf(" must be at most %d characters long.", max)
}

// RangeText is the ending for a number below min or above max (either may
// be nil, not both).
func RangeText(min, max *float64) string {
	switch {
	case min != nil && max != nil:
		return fmt.Sprintf(" must be between %s and %s.", num(*min), num(*max))
	case min != nil:
		return fmt.Sprintf(" must be at least %s.", num(*min))
	default:
		return fmt.Sprintf(" must be at most %s.", num(*max))
	}
}

// ItemsText is the ending for an array with fewer than min or more than
// max items (max may be nil).
func ItemsText(min uint64, max *uint64) string {
	if max != nil {
		return fmt.Sprintf(" must contain between %d and %d items.", min, *max)
	}
	return fmt.Sprintf(" must contain at least %d items.", min)
}

// FormatText is the ending for a string that is not of the format.
func FormatText(format string) string {
	switch format {
	case "uuid":
		return " must be a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6."
	case "date-time":
		return " must be an RFC 3339 date-time such as 2022-03-07T16:09:45Z."
	}
	return fmt.Sprintf(" must be of format %s.", format)
}

// EnumText is the ending for a value that is none of vals.
func EnumText(vals []string) string {
	return fmt.Sprintf(" must be one of %s.", strings.Join(vals, ", "))
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
