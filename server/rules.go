package server

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/mews"
)

// The longest time filters the reference accepts, in months.
const (
	threadIntervalMonths  = 3
	messageIntervalMonths = 1
)

// interval checks a time filter against the business rules and turns it
// into the closed interval of instants it selects, by the bound rule:
//
//   - a bound with a fraction is exact: StartUtc selects instants at or
//     after it, EndUtc at or before it;
//   - a bound in whole seconds (no fraction, or only zeros) covers its
//     whole second: StartUtc S from S.000000, EndUtc S through S.999999, so
//     a datetime copied from a response, which shows instants truncated to
//     the second, still selects that item.
//
// The longest allowed interval (months) applies to the bounds as written, so
// an interval of exactly 3 months in whole seconds stays valid; the start
// must not be after the end of what the interval covers.
func interval(name string, in *gen.TimeInterval, months int) (*mews.Interval, error) {
	if in == nil {
		return nil, nil
	}
	start, end := in.StartUtc.UTC(), in.EndUtc.UTC()
	if end.After(start.AddDate(0, months, 0)) {
		unit := "months"
		if months == 1 {
			unit = "month"
		}
		return nil, mews.Errorf(mews.EINVALID, "%s must not be longer than %d %s.", name, months, unit)
	}
	if end.Nanosecond() == 0 {
		end = end.Add(time.Second - time.Nanosecond)
	}
	if start.After(end) {
		return nil, mews.Errorf(mews.EINVALID, "%s.StartUtc must not be after %s.EndUtc.", name, name)
	}
	return &mews.Interval{Start: start, End: end}, nil
}

func page(l gen.Limitation) mews.Page {
	return mews.Page{Cursor: l.Cursor, Count: int(l.Count)}
}

func ids(p *[]uuid.UUID) []uuid.UUID {
	if p == nil {
		return nil
	}
	return *p
}

// preferMinimal reports whether the Prefer header asks for return=minimal
// (RFC 7240: comma-separated preferences, parameters after ';').
func preferMinimal(prefer *string) bool {
	if prefer == nil {
		return false
	}
	for _, pref := range strings.Split(*prefer, ",") {
		token, _, _ := strings.Cut(pref, ";")
		if strings.EqualFold(strings.TrimSpace(token), "return=minimal") {
			return true
		}
	}
	return false
}
