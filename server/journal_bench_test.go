//go:build unix

package server_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// BenchmarkJournal is the whole cost of a request with the request journal
// on and off (-journal 0), one request after another through the handler:
// the request path and the recorder's writes of its entry, which run on
// another goroutine. cpu-ns/op is the CPU time of the whole process per
// request (all its threads: the recorder's and the garbage collector's
// too), which depends less on what else the machine runs than ns/op.
// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkJournal(b *testing.B) {
	const add = `{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		"AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
		"Client":"bench","OriginalSender":"John Doe","Subject":"Example subject"}`
	const pageBody = `{"ClientToken":"E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D",
		"AccessToken":"C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D",
		"Client":"bench","CreatedUtc":{"StartUtc":"%s","EndUtc":"%s"},"Limitation":{"Count":100}}`
	now := time.Now().UTC()
	page := fmt.Sprintf(pageBody, now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	for _, journal := range []int{server.DefaultJournal, -1} {
		for _, op := range []struct{ name, path, body string }{
			{"messageThreads/add", "/api/connector/v1/messageThreads/add", add},
			{"messageThreads/getAll", "/api/connector/v1/messageThreads/getAll", page},
		} {
			b.Run(fmt.Sprintf("journal=%d/%s", max(journal, 0), op.name), func(b *testing.B) {
				db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				h, closeFn, err := server.New(server.Config{Store: db, Journal: journal})
				if err != nil {
					b.Fatal(err)
				}
				var once sync.Once
				stop := func() { once.Do(func() { closeFn() }) }
				defer stop()
				do := func(path, body string) {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest("POST", path, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					h.ServeHTTP(rec, req)
					if rec.Code != 200 || strings.HasSuffix(path, "getAll") && rec.Body.Len() < 10000 {
						b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
					}
				}
				if strings.HasSuffix(op.name, "getAll") {
					for range 100 {
						do("/api/connector/v1/messageThreads/add", add)
					}
				}
				b.ResetTimer()
				cpu := cpuTime()
				for range b.N {
					do(op.path, op.body)
				}
				stop() // the recorder writes what is queued
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
