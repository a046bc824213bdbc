package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/server"
	"github.com/mewsref/mewsref/sqlite"
)

// BenchmarkAdminBodies is what the admin API's validation costs for large
// and for small bodies, valid and not: one request per op through the whole
// handler (SQLite in memory; a valid import is undone by a reset outside the
// timer, so every op stores it anew). Besides -benchmem's B/op it reports
// peak-heap-MiB, the most heap in objects above what there was before the
// request (after a collection), sampled every 100µs while it runs (live
// and not yet swept: it depends on GOGC and on when the collector runs,
// B/op does not), and cpu-ns/op, the CPU time of the process (every
// goroutine, the collector's included) during the requests, which moves
// far less than ns/op when others share the machine.
//
//	go test ./server -run '^$' -bench AdminBodies -benchmem -benchtime 3x
func BenchmarkAdminBodies(b *testing.B) {
	store, err := sqlite.Open(b.Context(), ":memory:")
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h, closeFn, err := server.New(server.Config{Store: store, Journal: -1, AdminToken: adminToken})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := closeFn(); err != nil {
			b.Error(err)
		}
	}()
	// Not validated (apitest), which would weigh in the heap measured; the
	// tests validate the answers of every admin operation.
	call := func(op string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/_admin/v1/"+op, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	var hooks struct {
		Webhooks []struct{ IntegrationId string }
	}
	if err := json.Unmarshal(call("webhooks/getAll", []byte(`{}`)).Body.Bytes(), &hooks); err != nil || len(hooks.Webhooks) == 0 {
		b.Fatalf("webhooks/getAll: %v %v", hooks, err)
	}
	const n = server.DefaultBodyLimit
	const thread = "8d02142f-31cf-4115-90bf-ae5200c7a1ba"
	imported := `{"IntegrationId":"` + hooks.Webhooks[0].IntegrationId + `","EnterpriseId":"` + server.DemoGrossPricingEnterprise.String() +
		`","MessageThreads":[{"Id":"` + thread + `","OriginalSender":"Bench Guest","Subject":"Late check-in","CreatedUtc":"2026-11-20T18:00:00Z"}],"Messages":[`
	for _, c := range []struct {
		name, op string
		body     []byte
		status   int
	}{
		{"import/valid-8MiB", "data/import", fill(n, imported, `{"MessageThreadId":"`+thread+`","Text":"Message #","Sender":{"Discriminator":"Enterprise"},"CreatedUtc":"2026-11-20T18:05:00Z"}`, `]}`), 200},
		{"import/empty-items-8MiB", "data/import", fill(n, `{"MessageThreads":[],"Messages":[`, `{}`, `]}`), 400},
		{"import/null-items-8MiB", "data/import", fill(n, `{"MessageThreads":[],"Messages":[`, `null`, `]}`), 400},
		{"import/small-invalid", "data/import", []byte(`{"MessageThreads":[{"Subject":""},{}],"Messages":[{"Text":1}]}`), 400},
		{"clock-advance/small-invalid", "clock/advance", []byte(`{"Seconds":-1,"x":0}`), 400},
		{"clock-advance/huge-number-8MiB", "clock/advance", long(n, `{"Seconds":1`, '0', `}`), 413},
		{"clock-advance/huge-number-256KiB", "clock/advance", long(256<<10, `{"Seconds":1`, '0', `}`), 400},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			var peak uint64
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				stop := sampleHeap(&peak)
				start := cputime.Process()
				rec := call(c.op, c.body)
				cpu += cputime.Process() - start
				stop()
				if rec.Code != c.status {
					b.Fatalf("%d, want %d: %.300s", rec.Code, c.status, rec.Body)
				}
				if c.status == http.StatusOK {
					b.StopTimer()
					if rec := call("reset", []byte(`{}`)); rec.Code != http.StatusOK {
						b.Fatalf("reset: %d %s", rec.Code, rec.Body)
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// sampleHeap records in *peak the most heap in objects above what there is
// now seen until stop is called, sampled every 100µs (runtime/metrics: no
// stop of the world).
func sampleHeap(peak *uint64) (stop func()) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > base {
				*peak = max(*peak, v-base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
