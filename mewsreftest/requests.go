package mewsreftest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

// WithJournal sets how many requests the request journal keeps (-journal);
// 0 turns it off. Default: server.DefaultJournal.
func WithJournal(n int) Option {
	return func(s *settings) {
		s.cfg.Journal = n
		if n == 0 {
			s.cfg.Journal = -1
		}
	}
}

// Filter selects requests of the journal, as requests/getAll does; the
// fields combine with AND, each list matches any of its items, and zero
// fields match everything.
type Filter struct {
	Operations       []string    // e.g. "messages/add"
	IntegrationIds   []uuid.UUID // the integrations authenticated
	AccessToken      string      // the full token sent (matched, never shown)
	Statuses         []int       // the HTTP statuses answered
	CreatedUtc       *admin.AdminRequestInterval
	RequestIds       []uuid.UUID
	MessageThreadIds []uuid.UUID // threads the requests name or created
}

func (f Filter) admin() admin.AdminRequestFilter {
	var out admin.AdminRequestFilter
	if len(f.Operations) > 0 {
		out.Operations = &f.Operations
	}
	if len(f.IntegrationIds) > 0 {
		out.IntegrationIds = &f.IntegrationIds
	}
	if f.AccessToken != "" {
		out.AccessToken = &f.AccessToken
	}
	if len(f.Statuses) > 0 {
		st := make([]int32, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = int32(s)
		}
		out.Statuses = &st
	}
	out.CreatedUtc = f.CreatedUtc
	if len(f.RequestIds) > 0 {
		out.RequestIds = &f.RequestIds
	}
	if len(f.MessageThreadIds) > 0 {
		out.MessageThreadIds = &f.MessageThreadIds
	}
	return out
}

// Requests are entries of the request journal in the order the server
// received them: the last is the newest.
type Requests []admin.AdminRequest

// Len is the number of requests.
func (r Requests) Len() int { return len(r) }

// Last is the newest request; the zero value if there is none.
func (r Requests) Last() admin.AdminRequest {
	if len(r) == 0 {
		return admin.AdminRequest{}
	}
	return r[len(r)-1]
}

// String lists the requests one per line, as failure messages show them.
func (r Requests) String() string {
	if len(r) == 0 {
		return "  (no requests)"
	}
	var b strings.Builder
	for i, e := range r {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %s %s %s %d", e.CreatedUtc.Format(time.RFC3339), e.Method, e.Operation, e.Status)
		if e.IntegrationName != nil {
			fmt.Fprintf(&b, " by %q", *e.IntegrationName)
		}
		if e.Message != nil {
			fmt.Fprintf(&b, ": %s", *e.Message)
		}
		fmt.Fprintf(&b, " (Request-Id %s)", e.RequestId)
	}
	return b.String()
}

// Requests returns the recorded requests to the Connector API that match
// f, every one that the server answered before the call, oldest first.
func (s *Server) Requests(tb testing.TB, f Filter) Requests {
	tb.Helper()
	filter := f.admin()
	all := Requests(allPages(tb, "requests/getAll", func(cursor *uuid.UUID) ([]admin.AdminRequest, *uuid.UUID, error) {
		res, err := s.admin.AdminRequestsGetAllWithResponse(context.Background(), admin.AdminRequestsParameters{
			Operations: filter.Operations, IntegrationIds: filter.IntegrationIds, AccessToken: filter.AccessToken,
			Statuses: filter.Statuses, CreatedUtc: filter.CreatedUtc, RequestIds: filter.RequestIds,
			MessageThreadIds: filter.MessageThreadIds, Limitation: admin.Limitation{Count: 1000, Cursor: cursor}})
		if err == nil {
			err = answer(res.StatusCode(), res.Body)
		}
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.Requests, res.JSON200.Cursor, nil
	}))
	slices.Reverse(all)
	return all
}

// CountRequests returns how many recorded requests match f (requests/count,
// mewsref requests count), counting every one that the server answered
// before the call, and how many requests the server could not record
// (Dropped: its journal's queue was full), which a count may be short of.
func (s *Server) CountRequests(tb testing.TB, f Filter) admin.AdminRequestCount {
	tb.Helper()
	res, err := s.admin.AdminRequestsCountWithResponse(context.Background(), f.admin())
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "requests/count", err)
	return *res.JSON200
}

// ClearRequests empties the request journal (requests/clear).
func (s *Server) ClearRequests(tb testing.TB) {
	tb.Helper()
	res, err := s.admin.AdminRequestsClearWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "requests/clear", err)
}

// AssertCalled checks that the operation op (e.g. "messages/add") was
// requested n times, whatever the answers; otherwise it fails the test
// with every request that the server received instead.
func (s *Server) AssertCalled(tb testing.TB, op string, n int) {
	tb.Helper()
	got := s.Requests(tb, Filter{Operations: []string{op}})
	if got.Len() == n {
		return
	}
	all := s.Requests(tb, Filter{})
	tb.Errorf("mewsreftest: %s was called %d times, want %d; the server received %d requests:\n%s",
		op, got.Len(), n, all.Len(), all)
}
