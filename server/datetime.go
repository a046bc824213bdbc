package server

import (
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mewsref/mewsref/internal/reqrt"
)

// Datetimes in requests follow one rule, parseDateTime: the request
// document's "date-time" format validates with it, and before a body is
// bound, every date-time the operation's schema names in the validated
// value is rewritten as the instant it parsed to (see dateTimes), so that
// the generated types, which decode with Go's own RFC 3339 parser, bind
// exactly what was validated.

// parseDateTime is the one parser of request date-times, shared with the
// generated request decoders (gen/requests.gen.go).
func parseDateTime(s string) (time.Time, error) { return reqrt.ParseDateTime(s) }

// dateTimes says where the date-time strings of a request body are: the
// value itself, members of an object, elements of an array, or what the
// subschemas of allOf, oneOf and anyOf find. It is compiled once per
// operation from its request schema; nil means there are none, and the
// bodies of the operations without datetimes (both add operations) are not
// walked at all.
type dateTimes struct {
	here  bool
	props map[string]*dateTimes
	items *dateTimes
	alts  []*dateTimes
}

// requestDateTimes compiles the date-times of op's JSON request body.
func requestDateTimes(op *openapi3.Operation) *dateTimes {
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil {
		return nil
	}
	return compileDateTimes(mt.Schema, make(map[*openapi3.Schema]*dateTimes))
}

// compileDateTimes compiles the date-times of ref. memo holds the schemas
// seen: a recursive schema meets its own node, still being built, which
// fills in as the recursion returns.
func compileDateTimes(ref *openapi3.SchemaRef, memo map[*openapi3.Schema]*dateTimes) *dateTimes {
	if ref == nil || ref.Value == nil {
		return nil
	}
	s := ref.Value
	if n, seen := memo[s]; seen {
		return n
	}
	n := &dateTimes{here: s.Format == "date-time"}
	memo[s] = n
	for name, p := range s.Properties {
		if c := compileDateTimes(p, memo); c != nil {
			if n.props == nil {
				n.props = make(map[string]*dateTimes)
			}
			n.props[name] = c
		}
	}
	n.items = compileDateTimes(s.Items, memo)
	for _, subs := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
		for _, sub := range subs {
			if c := compileDateTimes(sub, memo); c != nil {
				n.alts = append(n.alts, c)
			}
		}
	}
	if !n.here && n.props == nil && n.items == nil && n.alts == nil {
		memo[s] = nil
		return nil
	}
	return n
}

// canonical returns v with each of its date-times that parseDateTime
// accepts rewritten in UTC as time.RFC3339Nano, which Go's decoder of
// time.Time reads as the same instant. Objects and arrays are changed in
// place.
func (n *dateTimes) canonical(v any) any {
	if n == nil {
		return v
	}
	switch x := v.(type) {
	case string:
		if n.here {
			if t, err := parseDateTime(x); err == nil {
				return t.Format(time.RFC3339Nano)
			}
		}
	case map[string]any:
		for name, c := range n.props {
			if m, ok := x[name]; ok {
				x[name] = c.canonical(m)
			}
		}
	case []any:
		if n.items != nil {
			for i := range x {
				x[i] = n.items.canonical(x[i])
			}
		}
	}
	for _, alt := range n.alts {
		v = alt.canonical(v)
	}
	return v
}

// responseTime is an instant as responses show it: in UTC, truncated to
// the second, so that the generated models marshal it in
// spec.ResponseTimeLayout, the only form in which the server writes
// datetimes. The stores keep finer instants (mews.Resolution).
func responseTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
