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

// interval checks a time filter against the business rules (start not after
// end, at most months long) and turns it into the whole seconds the server
// stores: the start rounds up and the end down, so the interval stays
// inclusive at both ends without widening.
func interval(name string, in *gen.TimeInterval, months int) (*mews.Interval, error) {
	if in == nil {
		return nil, nil
	}
	start, end := in.StartUtc.UTC(), in.EndUtc.UTC()
	if start.After(end) {
		return nil, mews.Errorf(mews.EINVALID, "%s.StartUtc must not be after %s.EndUtc.", name, name)
	}
	if end.After(start.AddDate(0, months, 0)) {
		unit := "months"
		if months == 1 {
			unit = "month"
		}
		return nil, mews.Errorf(mews.EINVALID, "%s must not be longer than %d %s.", name, months, unit)
	}
	if t := start.Truncate(time.Second); t.Before(start) {
		start = t.Add(time.Second)
	}
	return &mews.Interval{Start: start, End: end.Truncate(time.Second)}, nil
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
