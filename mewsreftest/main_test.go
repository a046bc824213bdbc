package mewsreftest_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// t stands in, in the examples, for the *testing.T of the test that a
// user would write: examples have none. Its cleanups run when all tests
// and examples are done.
var t = &fakeTB{}

// fakeTB is a testing.TB that records failures instead of ending a
// goroutine; the examples panic on one (nothing should fail there), the
// tests of failure messages read them.
type fakeTB struct {
	testing.TB // not set: any other method panics

	mu       sync.Mutex
	failures []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f == t {
		panic(fmt.Sprintf(format, args...))
	}
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) { f.Errorf(format, args...) }

func (f *fakeTB) Logf(format string, args ...any) {}

func (f *fakeTB) failed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failures...)
}

func (f *fakeTB) cleanup() {
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	t.cleanup()
	os.Exit(code)
}
