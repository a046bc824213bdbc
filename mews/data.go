package mews

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Data is the storage contract of fixtures and snapshots (the admin API's
// data/import and data/export): threads and messages stored as given, with
// their identifiers and instants, and read back in the order that import
// writes them. Both engines implement it as part of Admin.
type Data interface {
	// DataImport stores threads and then msgs, all or none, as given and in
	// the order given: oldest first, each list in insertion order, so that
	// of items with the same CreatedUTC the later one is the newer. An item
	// whose ID is stored already is left as it is (see PlanImport for the
	// rules and the errors). With webhooks, the added messages queue
	// MessageAdded deliveries like messages added through the API.
	DataImport(ctx context.Context, threads []Thread, msgs []Message, webhooksAt *time.Time) (ImportCounts, error)
	// DataExport returns the threads that f selects and their messages,
	// each list newest first (the order of the pages of getAll: CreatedUTC,
	// then insertion order), with their instants as stored.
	DataExport(ctx context.Context, f ExportFilter) ([]Thread, []Message, error)
}

// ExportFilter selects threads; nil fields select any. They combine with AND.
type ExportFilter struct {
	IntegrationID *uuid.UUID
	EnterpriseID  *uuid.UUID
}

// ImportCounts says what an import did.
type ImportCounts struct {
	AddedThreads, AddedMessages       int
	ExistingThreads, ExistingMessages int
}

// StoredThread is what PlanImport needs to know of a thread that is stored
// already.
type StoredThread struct {
	IntegrationID, EnterpriseID uuid.UUID
	CreatedUTC, UpdatedUTC      time.Time
}

// ImportPlan is what an engine writes for an import, in this order.
type ImportPlan struct {
	Threads  []Thread  // to insert, UpdatedUTC final, in order
	Messages []Message // to insert, in order
	// Touch holds the stored threads that get messages, with the
	// UpdatedUTC they move to (never backwards).
	Touch map[uuid.UUID]time.Time
	// Owner maps the thread of every message to insert to its integration
	// and enterprise, for the webhooks.
	Owner  map[uuid.UUID]StoredThread
	Counts ImportCounts
}

// PlanImport checks an import against what is stored (storedThreads and
// storedMessages: the items of the import whose ID is stored, the value of a
// message being its thread) and returns what to write. It is the one place
// of the rules, so that both engines apply them alike:
//
//   - a thread whose ID is stored must be of the same integration and
//     enterprise; it is left as it is;
//   - a message whose ID is stored must be of the same thread; it is left
//     as it is;
//   - a new message's thread is a thread of the import or a stored one, and
//     the message is not older than it;
//   - a thread's UpdatedUTC is at least its CreatedUTC and at least the
//     CreatedUTC of its newest message.
//
// Errors are EINVALID and name the item.
func PlanImport(threads []Thread, msgs []Message, storedThreads map[uuid.UUID]StoredThread, storedMessages map[uuid.UUID]uuid.UUID) (ImportPlan, error) {
	p := ImportPlan{Touch: map[uuid.UUID]time.Time{}, Owner: map[uuid.UUID]StoredThread{},
		// At most all of them: append grew a long list by a quarter at a
		// time, copying it some five times over.
		Threads: make([]Thread, 0, len(threads)), Messages: make([]Message, 0, len(msgs))}
	known := make(map[uuid.UUID]StoredThread, len(threads)) // every thread a message may name
	for id, st := range storedThreads {
		known[id] = st
	}
	added := make(map[uuid.UUID]int, len(threads)) // thread: index in p.Threads
	for _, t := range threads {
		if st, ok := storedThreads[t.ID]; ok {
			if st.IntegrationID != t.IntegrationID || st.EnterpriseID != t.EnterpriseID {
				return p, Errorf(EINVALID, "MessageThreads: %s is stored already as a thread of another integration or enterprise.", t.ID)
			}
			p.Counts.ExistingThreads++
			continue
		}
		if _, dup := added[t.ID]; dup {
			return p, Errorf(EINVALID, "MessageThreads: %s is listed twice.", t.ID)
		}
		if t.UpdatedUTC.Before(t.CreatedUTC) {
			t.UpdatedUTC = t.CreatedUTC
		}
		added[t.ID] = len(p.Threads)
		p.Threads = append(p.Threads, t)
		known[t.ID] = StoredThread{IntegrationID: t.IntegrationID, EnterpriseID: t.EnterpriseID, CreatedUTC: t.CreatedUTC, UpdatedUTC: t.UpdatedUTC}
	}
	seen := make(map[uuid.UUID]bool, len(msgs))
	for _, m := range msgs {
		if thread, ok := storedMessages[m.ID]; ok {
			if thread != m.ThreadID {
				return p, Errorf(EINVALID, "Messages: %s is stored already as a message of another thread.", m.ID)
			}
			p.Counts.ExistingMessages++
			continue
		}
		if seen[m.ID] {
			return p, Errorf(EINVALID, "Messages: %s is listed twice.", m.ID)
		}
		seen[m.ID] = true
		th, ok := known[m.ThreadID]
		if !ok {
			return p, Errorf(EINVALID, "Messages: the MessageThreadId %s of message %s is neither a thread of the import nor a stored one.", m.ThreadID, m.ID)
		}
		if m.CreatedUTC.Before(th.CreatedUTC) {
			return p, Errorf(EINVALID, "Messages: message %s (CreatedUtc %s) is older than its thread %s (CreatedUtc %s).",
				m.ID, m.CreatedUTC.Format(time.RFC3339Nano), m.ThreadID, th.CreatedUTC.Format(time.RFC3339Nano))
		}
		if i, ok := added[m.ThreadID]; ok {
			if p.Threads[i].UpdatedUTC.Before(m.CreatedUTC) {
				p.Threads[i].UpdatedUTC = m.CreatedUTC
			}
		} else if m.CreatedUTC.After(th.UpdatedUTC) && m.CreatedUTC.After(p.Touch[m.ThreadID]) {
			p.Touch[m.ThreadID] = m.CreatedUTC
		}
		p.Owner[m.ThreadID] = th
		p.Messages = append(p.Messages, m)
	}
	p.Counts.AddedThreads, p.Counts.AddedMessages = len(p.Threads), len(p.Messages)
	return p, nil
}

// WebhookBatches groups the messages to insert by the integration of their
// thread, in order of first mention, with the enterprise of each thread:
// the arguments of one queueing of webhooks per integration.
func (p ImportPlan) WebhookBatches() (integrations []uuid.UUID, msgs map[uuid.UUID][]Message, enterpriseOf map[uuid.UUID]uuid.UUID) {
	msgs = map[uuid.UUID][]Message{}
	enterpriseOf = map[uuid.UUID]uuid.UUID{}
	for _, m := range p.Messages {
		o := p.Owner[m.ThreadID]
		if _, ok := msgs[o.IntegrationID]; !ok {
			integrations = append(integrations, o.IntegrationID)
		}
		msgs[o.IntegrationID] = append(msgs[o.IntegrationID], m)
		enterpriseOf[m.ThreadID] = o.EnterpriseID
	}
	return integrations, msgs, enterpriseOf
}
