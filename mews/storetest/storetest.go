// Package storetest is the conformance suite of mews.Store: what the server
// relies on from a storage engine, checked the same way against every one.
// An engine's tests call Run with a function that opens a fresh store.
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/mewsref/mewsref/mews"
)

// Run runs the suite against the stores that open returns. Each subtest
// calls open once and expects an empty store; Run closes it when the subtest
// ends. Subtests run one after the other, so open may hand out stores that
// share a resource (a database server), as long as each one starts empty.
func Run(t *testing.T, open func(t *testing.T) mews.Store) {
	for _, tc := range slices.Concat(tests(), instantTests(), adminTests(), searchTests(), dataTests(), journalTests(), controlsTests()) {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(newEnv(t, s))
		})
	}
}

type test struct {
	name string
	run  func(e *env)
}

func tests() []test {
	return []test{
		{"ThreadsAddThenGetByIDs", threadsAddThenGetByIDs},
		{"ThreadsNewestFirstTiesByInsertion", threadsNewestFirstTiesByInsertion},
		{"ThreadsPagesVisitEachOnce", threadsPagesVisitEachOnce},
		{"ThreadsPagesStableWhileAdding", threadsPagesStableWhileAdding},
		{"ThreadsPagesRandom", func(e *env) { threadsPagesRandom(e, false) }},
		{"ThreadsPagesRandomWhileAdding", func(e *env) { threadsPagesRandom(e, true) }},
		{"ThreadsPagesMatchAModel", threadsPagesMatchAModel},
		{"ThreadsCursorUnknown", threadsCursorUnknown},
		{"ThreadsCursorOfOtherIntegration", threadsCursorOfOtherIntegration},
		{"ThreadsCursorOutsideEnterpriseScope", threadsCursorOutsideEnterpriseScope},
		{"ThreadsCursorFilteredOutIsValid", threadsCursorFilteredOutIsValid},
		{"ThreadsFilterIDs", threadsFilterIDs},
		{"ThreadsFilterCreatedInclusive", threadsFilterCreatedInclusive},
		{"ThreadsFilterUpdatedInclusive", threadsFilterUpdatedInclusive},
		{"ThreadsFilterUpdatedByMessages", threadsFilterUpdatedByMessages},
		{"ThreadsFiltersCombineWithAnd", threadsFiltersCombineWithAnd},
		{"ThreadsIntegrationIsolation", threadsIntegrationIsolation},
		{"ThreadsEnterpriseScope", threadsEnterpriseScope},

		{"MessagesAddThenGetAll", messagesAddThenGetAll},
		{"MessagesSenderPreserved", messagesSenderPreserved},
		{"MessagesAddSetsThreadUpdatedToNewest", messagesAddSetsThreadUpdatedToNewest},
		{"MessagesAddOlderKeepsThreadUpdated", messagesAddOlderKeepsThreadUpdated},
		{"MessagesAddAllOrNothingUnknownThread", messagesAddAllOrNothingUnknownThread},
		{"MessagesAddAllOrNothingOtherIntegration", messagesAddAllOrNothingOtherIntegration},
		{"MessagesAddAllOrNothingOutsideEnterpriseScope", messagesAddAllOrNothingOutsideEnterpriseScope},
		{"MessagesNewestFirstTiesByInsertion", messagesNewestFirstTiesByInsertion},
		{"MessagesFilterThreadIDs", messagesFilterThreadIDs},
		{"MessagesThreadsOutOfScopeMatchNothing", messagesThreadsOutOfScopeMatchNothing},
		{"MessagesFilterCreatedInclusive", messagesFilterCreatedInclusive},
		{"MessagesPagesVisitEachOnce", messagesPagesVisitEachOnce},
		{"MessagesPagesStableWhileAdding", messagesPagesStableWhileAdding},
		{"MessagesPagesRandom", func(e *env) { messagesPagesRandom(e, false) }},
		{"MessagesPagesRandomWhileAdding", func(e *env) { messagesPagesRandom(e, true) }},
		{"MessagesPagesMatchAModel", messagesPagesMatchAModel},
		{"MessagesCursorUnknown", messagesCursorUnknown},
		{"MessagesCursorOfOtherIntegration", messagesCursorOfOtherIntegration},
		{"MessagesCursorOutsideEnterpriseScope", messagesCursorOutsideEnterpriseScope},
		{"MessagesCursorOfAThreadNotAsked", messagesCursorOfAThreadNotAsked},
		{"MessagesCursorThreadIDIsUnknown", messagesCursorThreadIDIsUnknown},

		{"ConcurrentAdds", concurrentAdds},
	}
}

// baseUnix is the fixed instant that test times count from: 2024-03-01
// 12:00:00 UTC. Fixed, so that a failure reads the same on every run.
const baseUnix = 1709294400

// at returns the instant sec seconds after the base time, in UTC (whole
// seconds; atMicro gives finer instants).
func at(sec int) time.Time { return time.Unix(baseUnix+int64(sec), 0).UTC() }

// span returns the closed interval between two offsets from the base time.
func span(start, end int) *mews.Interval { return &mews.Interval{Start: at(start), End: at(end)} }

// all is an interval that holds every time the tests use.
func all() *mews.Interval { return span(-1_000_000, 1_000_000) }

// env is one subtest's store and the parties that use it: integrations A
// (the caller, unless a test says otherwise) and B, and enterprises E1, E2
// and E3 that both are connected to.
type env struct {
	t          *testing.T
	ctx        context.Context
	s          mews.Store
	a, b       uuid.UUID // integrations
	e1, e2, e3 uuid.UUID // enterprises
}

func newEnv(t *testing.T, s mews.Store) *env {
	return &env{
		t: t, ctx: t.Context(), s: s,
		a: uuid.New(), b: uuid.New(),
		e1: uuid.New(), e2: uuid.New(), e3: uuid.New(),
	}
}

// scope returns the scope of integration A in enterprises es.
func (e *env) scope(es ...uuid.UUID) mews.Scope {
	return mews.Scope{IntegrationID: e.a, EnterpriseIDs: es}
}

// newThread returns a thread, not yet stored, of integration i in enterprise
// en, created (and updated) at sec.
func newThread(i, en uuid.UUID, sec int) mews.Thread {
	id := uuid.New()
	short := id.String()[:8]
	return mews.Thread{
		ID: id, IntegrationID: i, EnterpriseID: en,
		OriginalSender: "Guest " + short, Subject: "Stay " + short,
		CreatedUTC: at(sec), UpdatedUTC: at(sec),
	}
}

// addThread stores th.
func (e *env) addThread(th mews.Thread) mews.Thread {
	e.t.Helper()
	if err := e.s.MessageThreadsAdd(e.ctx, th); err != nil {
		e.t.Fatalf("MessageThreadsAdd(%s): %v", th.ID, err)
	}
	return th
}

// thread stores and returns a new thread of integration i in enterprise en,
// created at sec.
func (e *env) thread(i, en uuid.UUID, sec int) mews.Thread {
	e.t.Helper()
	return e.addThread(newThread(i, en, sec))
}

// newMessage returns a message, not yet stored, of thread th created at sec.
func newMessage(th uuid.UUID, sec int, sender mews.Sender) mews.Message {
	id := uuid.New()
	return mews.Message{ID: id, ThreadID: th, Text: "Text " + id.String()[:8], Sender: sender, CreatedUTC: at(sec)}
}

// addMessages stores msgs in one batch, in scope.
func (e *env) addMessages(scope mews.Scope, msgs ...mews.Message) []mews.Message {
	e.t.Helper()
	if err := e.s.MessagesAdd(e.ctx, scope, msgs); err != nil {
		e.t.Fatalf("MessagesAdd(%d messages): %v", len(msgs), err)
	}
	return msgs
}

// threads returns the page for f, failing the test on an error.
func (e *env) threads(f mews.ThreadFilter) []mews.Thread {
	e.t.Helper()
	got, err := e.s.MessageThreadsGetAll(e.ctx, f)
	if err != nil {
		e.t.Fatalf("MessageThreadsGetAll: %v", err)
	}
	return got
}

// messages returns the page for f, failing the test on an error.
func (e *env) messages(f mews.MessageFilter) []mews.Message {
	e.t.Helper()
	got, err := e.s.MessagesGetAll(e.ctx, f)
	if err != nil {
		e.t.Fatalf("MessagesGetAll: %v", err)
	}
	return got
}

// threadByID returns thread id as stored, seen through scope.
func (e *env) threadByID(scope mews.Scope, id uuid.UUID) mews.Thread {
	e.t.Helper()
	got := e.threads(mews.ThreadFilter{Scope: scope, IDs: []uuid.UUID{id}, Page: mews.Page{Count: 1}})
	if len(got) != 1 {
		e.t.Fatalf("thread %s: got %d threads, want 1", id, len(got))
	}
	return got[0]
}

// wantInvalid checks that err is an EINVALID error and, unless names is
// uuid.Nil, that its message names that identifier.
func wantInvalid(t *testing.T, err error, names uuid.UUID) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want an EINVALID error")
	}
	var me *mews.Error
	if !errors.As(err, &me) || me.Code != mews.EINVALID {
		t.Fatalf("got error %v (code %s), want code %s", err, mews.ErrorCode(err), mews.EINVALID)
	}
	if names != uuid.Nil && !strings.Contains(me.Message, names.String()) {
		t.Errorf("error message %q does not name %s", me.Message, names)
	}
}
