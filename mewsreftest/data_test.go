package mewsreftest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mewsreftest"
)

func threadsOf(t *testing.T, srv *mewsreftest.Server, ids ...uuid.UUID) []string {
	t.Helper()
	page, err := srv.Client().GetThreads(t.Context(), client.ThreadsQuery{MessageThreadIds: ids, Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, th := range page.Threads {
		subjects = append(subjects, th.Subject)
	}
	return subjects
}

// WithSeed starts the server with the history of an example fixture.
func TestWithSeed(t *testing.T) {
	srv := mewsreftest.New(t, mewsreftest.WithSeed("../examples/fixtures/long-history.yaml"))
	umbrella := uuid.MustParse("2a1d7b63-4c9f-4e8b-8d32-6f5a4b3c2d1e")
	if got := threadsOf(t, srv, umbrella); len(got) != 1 || got[0] != "Lost umbrella" {
		t.Fatalf("seeded threads %v", got)
	}
	msgs := srv.Messages(t, umbrella)
	if len(msgs) != 2 || msgs[0].Sender.Discriminator != admin.Enterprise || msgs[0].CreatedUtc != time.Date(2026, 10, 3, 8, 30, 0, 0, time.UTC) {
		t.Fatalf("seeded messages %+v", msgs)
	}
}

// Export, Reset and Import give back the same data; Import of a fixture
// written in Go takes the same shape.
func TestExportResetImport(t *testing.T) {
	srv := mewsreftest.New(t)
	in := mewsreftest.IntegrationID(mewsreftest.Demo(1).ClientToken)
	en := mewsreftest.DemoEnterprise
	id := uuid.New()
	sent := time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)
	res := srv.Import(t, admin.DataImportParameters{IntegrationId: &in, EnterpriseId: &en,
		MessageThreads: []admin.ImportMessageThread{{Id: &id, OriginalSender: "Jane", Subject: "Spa", CreatedUtc: sent}},
		Messages: &[]admin.ImportMessage{{MessageThreadId: id, Text: "Is the spa open on Sunday?",
			Sender: admin.ImportSender{Discriminator: admin.Application}, CreatedUtc: sent}},
	})
	if res.AddedMessageThreads != 1 || res.AddedMessages != 1 {
		t.Fatalf("import %+v", res)
	}
	srv.Reply(t, id, "Yes, from 9 to 18.")
	snap := srv.Export(t, admin.DataExportParameters{})
	srv.Reset(t)
	if got := threadsOf(t, srv, id); len(got) != 0 {
		t.Fatalf("after Reset: %v", got)
	}
	raw, _ := json.Marshal(snap)
	var again admin.DataImportParameters
	if err := json.Unmarshal(raw, &again); err != nil {
		t.Fatal(err)
	}
	srv.Import(t, again)
	if got := srv.Export(t, admin.DataExportParameters{}); !equalJSON(t, got, snap) {
		t.Errorf("after Import of the export: %+v, want %+v", got, snap)
	}
	if msgs := srv.Messages(t, id); len(msgs) != 2 || msgs[0].Text != "Yes, from 9 to 18." {
		t.Errorf("messages after the round trip: %+v", msgs)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Redeliver sends a webhook again to the receiver.
func TestRedeliver(t *testing.T) {
	srv := mewsreftest.New(t)
	hooks := srv.Webhooks(t)
	th, err := srv.Client().AddThread(t.Context(), client.AddThreadRequest{OriginalSender: "Jane", Subject: "Twice"})
	if err != nil {
		t.Fatal(err)
	}
	reply := srv.Reply(t, th.Id, "Hello")
	first := hooks.Next(t, 10*time.Second)
	d := srv.Deliveries(t, 1)[0]
	again := srv.Redeliver(t, d.Id)
	if again.Id == d.Id || again.Status != admin.Pending {
		t.Errorf("redelivery %+v of %+v", again, d)
	}
	if second := hooks.Next(t, 10*time.Second); second != first || second.MessageId != reply.Id {
		t.Errorf("redelivered %+v, want %+v again", second, first)
	}
}

// RedeliverTo sends a webhook again to another URL, and DeliveriesFor lists
// one integration's deliveries only.
func TestRedeliverToAndDeliveriesFor(t *testing.T) {
	srv := mewsreftest.New(t)
	hooks := srv.Webhooks(t)
	second := mewsreftest.IntegrationID(mewsreftest.Demo(2).ClientToken)
	other := srv.WebhooksFor(t, second)
	th, err := srv.Client().AddThread(t.Context(), client.AddThreadRequest{OriginalSender: "Jane", Subject: "Elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	reply := srv.Reply(t, th.Id, "Hello")
	first := hooks.Next(t, 10*time.Second)
	d := srv.Deliveries(t, 1)[0]
	again := srv.RedeliverTo(t, d.Id, other.URL())
	if again.Id == d.Id || again.Url != other.URL() {
		t.Errorf("redelivery %+v of %+v, want it to %s", again, d, other.URL())
	}
	if got := other.Next(t, 10*time.Second); got != first || got.MessageId != reply.Id {
		t.Errorf("redelivered to the other receiver %+v, want %+v", got, first)
	}
	mine := mewsreftest.IntegrationID(mewsreftest.Demo(1).ClientToken)
	if got := srv.DeliveriesFor(t, mine, 10); len(got) != 2 || got[0].Id != again.Id || got[1].Id != d.Id {
		t.Errorf("DeliveriesFor the first integration: %+v, want the redelivery and the original", got)
	}
	if got := srv.DeliveriesFor(t, second, 10); len(got) != 0 {
		t.Errorf("DeliveriesFor the second integration, which had no message: %+v", got)
	}
}
