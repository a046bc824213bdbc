package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/mews"
)

// The Ids derived for items without one are those that earlier versions
// derived (the formula spelled out here with fmt), so that importing a
// fixture again finds what it stored then.
func TestDerivedIDsAsBefore(t *testing.T) {
	var d derivedIDs
	created := []time.Time{
		time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 20, 18, 0, 0, 123456000, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 100000000, time.UTC),
	}
	for i, at := range created {
		th := mews.Thread{IntegrationID: uuid.New(), EnterpriseID: uuid.New(), CreatedUTC: at,
			OriginalSender: fmt.Sprint("Jane ", i), Subject: "Spa – ünïcode\x00 and a NUL"}
		want := uuid.NewSHA1(importNamespace, fmt.Appendf(nil, "thread\x00%s\x00%s\x00%s\x00%s\x00%s",
			th.IntegrationID, th.EnterpriseID, th.CreatedUTC.Format(time.RFC3339Nano), th.OriginalSender, th.Subject))
		if got := d.thread(th); got != want {
			t.Errorf("thread %d: %s, want %s", i, got, want)
		}
		m := mews.Message{ThreadID: th.ID, Sender: mews.SenderEnterprise, CreatedUTC: at, Text: fmt.Sprint("Message ", i)}
		if i == 1 {
			m.Sender, m.Text = mews.SenderApplication, ""
		}
		want = uuid.NewSHA1(importNamespace, fmt.Appendf(nil, "message\x00%s\x00%s\x00%s\x00%s",
			m.ThreadID, m.Sender, m.CreatedUTC.Format(time.RFC3339Nano), m.Text))
		if got := d.message(m); got != want {
			t.Errorf("message %d: %s, want %s", i, got, want)
		}
	}
	for range 100 {
		id := uuid.New()
		if got := string(appendUUIDText([]byte("x"), id)); got != "x"+id.String() {
			t.Errorf("appendUUIDText: %s, want x%s", got, id)
		}
	}
}
