//go:build !unix

package sqlite

import "time"

// cpuTime (journal_bench_test.go on unix) is not measured here: cpu-ns/op
// reads 0.
func cpuTime() time.Duration { return 0 }
