package cputime

import (
	"runtime"
	"testing"
)

// Work on the CPU shows in Process (on unix, where it is measured).
func TestProcessCountsWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("not measured on", runtime.GOOS)
	}
	before := Process()
	x := 0
	for i := range 50_000_000 {
		x ^= i * i
	}
	if after := Process(); after <= before {
		t.Errorf("CPU time %v after a busy loop (%d), %v before", after, x, before)
	}
}
