package mews

import "time"

// Resolution is the precision of the instants that stores keep: the
// CreatedUTC of threads and messages and the UpdatedUTC of threads. Finer
// digits are dropped (rounded down) when an instant is stored. It is the
// precision of PostgreSQL's timestamptz, and SQLite stores the same count
// of microseconds, so both engines keep and order the same instants.
const Resolution = time.Microsecond

// Instant returns t as a store keeps it: in UTC, rounded down to Resolution.
func Instant(t time.Time) time.Time { return t.UTC().Truncate(Resolution) }

// UnixMicros returns the instants that a store may hold (multiples of
// Resolution) within iv as a closed range of Unix microseconds: the start
// rounded up, the end rounded down. The range is empty (start > end) when no
// such instant lies within iv.
func (iv Interval) UnixMicros() (start, end int64) {
	start = iv.Start.UnixMicro() // rounds down, also before 1970
	if iv.Start.Nanosecond()%1000 != 0 {
		start++
	}
	return start, iv.End.UnixMicro()
}
