package server

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mews"
)

// The admin API of the clock (clock/*). The clock itself is package clock;
// the server shares its state through the store (mews.Controls) and picks
// up the changes of other replicas at the start of every request (begin).

// syncClock adopts a change of the clock made by another replica. A store
// that cannot be read fails the request's own work soon enough; the clock
// keeps its last state meanwhile.
//
// With a store that is a round trip away (mews.Admitter), an API request
// reads the clock together with its fault rule, in admit, before the
// operation reads the clock; begin then leaves it alone (and the
// journal's instant of the request follows a change adopted in admit).
func (s *Server) syncClock(ctx context.Context, path string) {
	if s.admitter != nil && strings.HasPrefix(path, APIPrefix) {
		return
	}
	if err := s.clk.Sync(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("clock: cannot read the shared clock; using its last known state", "error", err)
	}
}

func (a adminServer) clockResult(ctx context.Context, st clock.State, err error) (admin.AdminClock, error) {
	if errors.Is(err, clock.ErrBackwards) {
		return admin.AdminClock{}, mews.Errorf(mews.EINVALID, "%s; ordering and cursors depend on it.", upperFirst(err.Error()))
	}
	if err != nil {
		return admin.AdminClock{}, err
	}
	return admin.AdminClock{Mode: admin.AdminClockMode(st.Mode()), NowUtc: responseTime(a.s.now())}, nil
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// AdminClockGet reads the clock.
func (a adminServer) AdminClockGet(ctx context.Context, _ admin.AdminClockGetRequestObject) (admin.AdminClockGetResponseObject, error) {
	out, err := a.clockResult(ctx, a.s.clk.State(), nil)
	if err != nil {
		return nil, err
	}
	return admin.AdminClockGet200JSONResponse{Body: out, Headers: admin.AdminClockGet200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminClockSet freezes the clock at an instant not before its current one.
func (a adminServer) AdminClockSet(ctx context.Context, req admin.AdminClockSetRequestObject) (admin.AdminClockSetResponseObject, error) {
	var at time.Time
	if req.Body.NowUtc != nil {
		at = *req.Body.NowUtc
	}
	st, err := a.s.clk.Set(ctx, at)
	out, err := a.clockResult(ctx, st, err)
	if err != nil {
		return nil, err
	}
	a.s.changes.changed() // the console's other pages show the clock
	return admin.AdminClockSet200JSONResponse{Body: out, Headers: admin.AdminClockSet200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminClockAdvance moves the clock ahead.
func (a adminServer) AdminClockAdvance(ctx context.Context, req admin.AdminClockAdvanceRequestObject) (admin.AdminClockAdvanceResponseObject, error) {
	secs := req.Body.Seconds
	if math.IsNaN(secs) || secs < 0 || secs > float64(math.MaxInt64/int64(time.Second)) {
		return nil, mews.Errorf(mews.EINVALID, "Seconds must be between 0 and 3153600000.")
	}
	st, err := a.s.clk.Advance(ctx, time.Duration(secs*float64(time.Second)))
	out, err := a.clockResult(ctx, st, err)
	if err != nil {
		return nil, err
	}
	a.s.changes.changed() // the console's other pages show the clock
	return admin.AdminClockAdvance200JSONResponse{Body: out, Headers: admin.AdminClockAdvance200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminClockRelease lets a frozen clock run again from its current instant.
func (a adminServer) AdminClockRelease(ctx context.Context, _ admin.AdminClockReleaseRequestObject) (admin.AdminClockReleaseResponseObject, error) {
	st, err := a.s.clk.Release(ctx)
	out, err := a.clockResult(ctx, st, err)
	if err != nil {
		return nil, err
	}
	a.s.changes.changed() // the console's other pages show the clock
	return admin.AdminClockRelease200JSONResponse{Body: out, Headers: admin.AdminClockRelease200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}
