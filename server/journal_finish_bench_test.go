package server

import (
	"testing"

	"github.com/google/uuid"
)

// BenchmarkJournalFinish is the recorder's masking of one
// messageThreads/add entry (pending.finish): make bench's request body,
// with both tokens, and a thread's answer. Its instructions per op
// (callgrind) say what masking costs each add's entry, off the request
// path (docs/BENCHMARKS.md, "The journal's cost", fifth and sixth rounds).
//
//	go test ./server -run '^$' -bench JournalFinish -benchmem
func BenchmarkJournalFinish(b *testing.B) {
	const (
		client = "E0D439EE522F44368DC78E1BFB03710C-D24FB11DBE31D4621C4817E028D9E1D"
		access = "C66EF7B239D24632943D115EDE9CB810-EA00F8FD8294692C940F6B5A8F9453D"
	)
	body := []byte(`{"AccessToken":"` + access + `","Client":"bench 1.0","ClientToken":"` + client + `","OriginalSender":"Bench Guest","Subject":"Late check-out?"}`)
	answer := []byte(`{"MessageThreads":[{"CreatedUtc":"2026-11-22T00:12:09Z","Id":"0196b1a4-1f2e-7c3d-9a4b-5c6d7e8f9a0b","IsResolved":false,"OriginalSender":"Bench Guest","Subject":"Late check-out?","UpdatedUtc":"2026-11-22T00:12:09Z"}]}` + "\n")
	digest := tokenKey{}
	id := uuid.New()
	var p pending
	b.ReportAllocs()
	for b.Loop() {
		p.kept = append(p.kept[:0], answer...)
		p.body, p.clientToken, p.accessToken, p.accessDigest = body, client, access, &digest
		p.entry.ThreadIDs = []uuid.UUID{id}
		p.finish()
	}
}
