package mewsreftest

import (
	"context"
	"testing"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
)

// Steering a test: targeted fault rules and the test clock, through the
// admin API's faults/* and clock/* operations (the same names as here). Each
// method fails the test if the server refuses, with the server's message.

// WithClock gives the server the clock c (see package clock), e.g.
// WithClock(clock.Frozen(t0)): the CreatedUtc and UpdatedUtc of what it
// stores, the rate limit's windows, webhook retries and the journal follow
// it, and ClockSet, ClockAdvance and ClockRelease move it. Without it the
// server runs on a real clock (reading WithNow's function, if given).
func WithClock(c *clock.Clock) Option {
	return func(s *settings) { s.cfg.Clock = c }
}

// FaultsAdd adds a fault rule: the next rule.Count requests of
// rule.Operation (of rule.AccessToken only, if set) answer rule.Status, or
// are delayed by rule.DelayMs; see openapi/admin.yaml, faults/add. For
// example, the next messages/add is rate-limited:
//
//	srv.FaultsAdd(t, admin.AdminFaultRuleParameters{Operation: "messages/add",
//		Status: mewsreftest.Status(429), RetryAfterSeconds: mewsreftest.Int(30)})
func (s *Server) FaultsAdd(tb testing.TB, rule admin.AdminFaultRuleParameters) admin.AdminFaultRule {
	tb.Helper()
	res, err := s.admin.AdminFaultsAddWithResponse(context.Background(), rule)
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "faults/add", err)
	if err != nil { // a tb whose Fatalf returns
		return admin.AdminFaultRule{}
	}
	return *res.JSON200
}

// FaultsGetAll returns every fault rule in the order added, each with the
// strikes it has left (Remaining).
func (s *Server) FaultsGetAll(tb testing.TB) []admin.AdminFaultRule {
	tb.Helper()
	res, err := s.admin.AdminFaultsGetAllWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "faults/getAll", err)
	if err != nil {
		return nil
	}
	return res.JSON200.FaultRules
}

// FaultsClear deletes every fault rule.
func (s *Server) FaultsClear(tb testing.TB) {
	tb.Helper()
	res, err := s.admin.AdminFaultsClearWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "faults/clear", err)
}

// Status is a fault rule's Status, for FaultsAdd.
func Status(code int) *admin.AdminFaultRuleParametersStatus {
	s := admin.AdminFaultRuleParametersStatus(code)
	return &s
}

// Int is a pointer to n as the generated models take optional integers,
// for FaultsAdd (Count, RetryAfterSeconds, DelayMs).
func Int(n int) *int32 {
	v := int32(n)
	return &v
}

// ClockGet returns the server's clock: its mode and current instant.
func (s *Server) ClockGet(tb testing.TB) admin.AdminClock {
	tb.Helper()
	res, err := s.admin.AdminClockGetWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "clock/get", err)
	if err != nil {
		return admin.AdminClock{}
	}
	return *res.JSON200
}

// ClockSet freezes the server's clock at now (the zero time: where it is).
// The clock never moves backwards: an instant before its current one
// fails the test.
func (s *Server) ClockSet(tb testing.TB, now time.Time) admin.AdminClock {
	tb.Helper()
	var p admin.AdminClockSetParameters
	if !now.IsZero() {
		p.NowUtc = &now
	}
	res, err := s.admin.AdminClockSetWithResponse(context.Background(), p)
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "clock/set", err)
	if err != nil {
		return admin.AdminClock{}
	}
	return *res.JSON200
}

// ClockAdvance moves the server's clock d ahead; webhook retries that come
// due are sent at once, and rate-limit windows pass.
func (s *Server) ClockAdvance(tb testing.TB, d time.Duration) admin.AdminClock {
	tb.Helper()
	res, err := s.admin.AdminClockAdvanceWithResponse(context.Background(), admin.AdminClockAdvanceParameters{Seconds: d.Seconds()})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "clock/advance", err)
	if err != nil {
		return admin.AdminClock{}
	}
	return *res.JSON200
}

// ClockRelease lets a frozen clock run again, from its current instant on.
func (s *Server) ClockRelease(tb testing.TB) admin.AdminClock {
	tb.Helper()
	res, err := s.admin.AdminClockReleaseWithResponse(context.Background(), admin.AdminEmpty{})
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "clock/release", err)
	if err != nil {
		return admin.AdminClock{}
	}
	return *res.JSON200
}
