//go:build unix

package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/internal/cputime"
	"github.com/mewsref/mewsref/mews"
)

// BenchmarkRequestsAdd is the cost of the request journal's writes per
// entry, in batches of 256 as the recorder writes them, with bodies of the
// size of a messageThreads/add and of a page (the 4 KiB the journal keeps
// of its answer): the work the journal adds to each API request, off its
// path. The journal keeps 10,000 entries, so its prunes are in the figure
// from 12,500 entries on.
func BenchmarkRequestsAdd(b *testing.B) {
	page := strings.Repeat(`{"CreatedUtc":"2026-11-22T00:12:09Z","Id":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b","IsResolved":false,"OriginalSender":"John Doe","Subject":"Example subject","UpdatedUtc":"2026-11-22T00:12:09Z"},`, 25)[:4096]
	b.Run("add", func(b *testing.B) { benchRequestsAdd(b, "") })
	b.Run("page", func(b *testing.B) { benchRequestsAdd(b, page) })
}

func benchRequestsAdd(b *testing.B, response string) {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	req := `{"ClientToken":"E0D4…9E1D","AccessToken":"C66E…453D","Client":"Sample Client 1.0.0","OriginalSender":"John Doe","Subject":"Example subject"}`
	res := `{"MessageThreads":[{"CreatedUtc":"2026-11-22T00:12:09Z","Id":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b","IsResolved":false,"OriginalSender":"John Doe","Subject":"Example subject","UpdatedUtc":"2026-11-22T00:12:09Z"}]}`
	if response != "" {
		res = response
	}
	batch := make([]mews.Request, 256)
	b.ResetTimer()
	cpu := cputime.Process()
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			batch[j] = mews.Request{ID: uuid.New(), CreatedUTC: time.Now(), Method: "POST", Operation: "messageThreads/add",
				IntegrationID: uuid.New(), IntegrationName: "Are you ready to integrate with Mews?",
				EnterpriseIDs: []uuid.UUID{uuid.New()}, AccessToken: "C66E…453D", AccessTokenHash: make([]byte, 32),
				Status: 200, Duration: time.Millisecond, RequestBody: &req, ResponseBody: &res, ThreadIDs: []uuid.UUID{uuid.New()}}
		}
		if err := db.RequestsAdd(context.Background(), batch, 10000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
}
