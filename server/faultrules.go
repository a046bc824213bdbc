package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mews"
)

// Targeted fault rules (admin API faults/*): "the next Count requests of
// Operation answer Status, or are delayed". The rules live in the store
// (mews.Controls), so that the replicas of one PostgreSQL database strike
// each rule exactly Count times between them.
//
// Precedence, at admit: a rule comes first. A request that a rule answers
// with a status is not counted by the rate limit and draws no random fault
// (-faults): it is answered before both, and, like every injected fault,
// before the operation runs, so it stores nothing. A request that a rule
// only delays then goes through the rate limit and the random faults as
// usual.

// ruleCodes maps the statuses a rule may answer to the error codes that
// handleError maps back to them.
var ruleCodes = map[int]string{
	http.StatusBadRequest:          mews.EINVALID,
	http.StatusUnauthorized:        mews.EUNAUTHORIZED,
	http.StatusForbidden:           mews.EFORBIDDEN,
	http.StatusRequestTimeout:      mews.ETIMEOUT,
	http.StatusTooManyRequests:     mews.ERATELIMIT,
	http.StatusInternalServerError: mews.EINTERNAL,
	http.StatusServiceUnavailable:  mews.EUNAVAILABLE,
}

// strikeRule takes a strike of the first rule that matches a request of op
// by the AccessToken with digest key, holds the request for the rule's
// delay, and returns the error the rule answers (nil: serve the request).
// struck reports whether a rule answered it.
func (s *Server) strikeRule(ctx context.Context, op string, key tokenKey) (struck bool, err error) {
	if s.controls == nil {
		return false, nil
	}
	var r mews.FaultRule
	var ok bool
	if s.admitter != nil {
		// One round trip for the rule and the clock (begin left the clock
		// to this step, see syncClock).
		var st clock.State
		st, r, ok, err = s.admitter.Admit(ctx, op, mews.TokenDigest(key))
		if err == nil && st.Version != s.clk.State().Version {
			s.clk.Adopt(st)
			// Another replica moved the clock: the journal's instant of
			// this request, taken in begin, follows.
			if info := requestInfoFrom(ctx); !info.received.IsZero() {
				info.received = s.clock()
			}
		}
	} else {
		r, ok, err = s.controls.FaultRuleTake(ctx, op, mews.TokenDigest(key))
	}
	if err != nil || !ok {
		return false, err
	}
	// Its Remaining fell: the console's controls page shows it live.
	s.changes.changed()
	if r.Delay > 0 {
		t := time.NewTimer(r.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return true, ctx.Err() // the request timeout: 408
		case <-t.C:
		}
	}
	if r.Status == 0 {
		return false, nil
	}
	return true, ruleError(r)
}

// ruleError is the error that rule r answers.
func ruleError(r mews.FaultRule) *mews.Error {
	msg := r.Message
	if msg == "" {
		msg = fmt.Sprintf("Injected fault (fault rule %d of the admin API), not a bug: the request was answered %d %s and not processed.",
			r.ID, r.Status, http.StatusText(r.Status))
	}
	e := &mews.Error{Code: ruleCodes[r.Status], Message: msg}
	if r.Status == http.StatusTooManyRequests {
		secs := max(r.RetryAfterSeconds, 1)
		e.Details = RetryAfter{Seconds: secs}
		if r.Message == "" {
			e.Message = fmt.Sprintf("Injected fault (fault rule %d of the admin API), not a bug: the request was answered 429 Too Many Requests and not processed; retry after %d %s.",
				r.ID, secs, plural(secs, "second", "seconds"))
		}
	}
	return e
}

// knownAccessToken reports whether some integration has the access token
// with digest key.
func (s *Server) knownAccessToken(key tokenKey) bool {
	for _, c := range s.tokens.clients {
		if c.access[key] != nil {
			return true
		}
	}
	return false
}

// controlsOrError is the store's mews.Controls, or the error of a store
// without it.
func (a adminServer) controlsOrError() (mews.Controls, error) {
	if a.s.controls == nil {
		return nil, fmt.Errorf("the store %T does not implement mews.Controls", a.s.store)
	}
	return a.s.controls, nil
}

// AdminFaultsAdd adds a fault rule.
func (a adminServer) AdminFaultsAdd(ctx context.Context, req admin.AdminFaultsAddRequestObject) (admin.AdminFaultsAddResponseObject, error) {
	c, err := a.controlsOrError()
	if err != nil {
		return nil, err
	}
	b := req.Body
	r := mews.FaultRule{Operation: string(b.Operation), Count: 1, CreatedUTC: a.s.now()}
	if b.Count != nil {
		r.Count = int(*b.Count)
	}
	if b.Status != nil {
		r.Status = int(*b.Status)
	}
	if b.DelayMs != nil {
		r.Delay = time.Duration(*b.DelayMs) * time.Millisecond
	}
	if r.Status == 0 && r.Delay == 0 {
		return nil, mews.Errorf(mews.EINVALID, "A fault rule needs Status, DelayMs or both.")
	}
	if b.RetryAfterSeconds != nil {
		if r.Status != http.StatusTooManyRequests {
			return nil, mews.Errorf(mews.EINVALID, "RetryAfterSeconds is only for Status 429.")
		}
		r.RetryAfterSeconds = int(*b.RetryAfterSeconds)
	}
	if b.Message != nil {
		if r.Status == 0 {
			return nil, mews.Errorf(mews.EINVALID, "Message is only for a rule with a Status.")
		}
		r.Message = *b.Message
	}
	if b.AccessToken != nil {
		key := tokenKey(sha256.Sum256([]byte(*b.AccessToken)))
		if !a.s.knownAccessToken(key) {
			return nil, mews.Errorf(mews.EINVALID, "AccessToken: no integration has the access token %s.", MaskToken(*b.AccessToken))
		}
		d := mews.TokenDigest(key)
		r.Token, r.TokenMasked = &d, MaskToken(*b.AccessToken)
	}
	out, err := c.FaultRuleAdd(ctx, r)
	if err != nil {
		return nil, err
	}
	a.s.changes.changed() // the console's other pages show the rules
	return admin.AdminFaultsAdd200JSONResponse{Body: adminFaultRule(out),
		Headers: admin.AdminFaultsAdd200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminFaultsGetAll lists the fault rules.
func (a adminServer) AdminFaultsGetAll(ctx context.Context, _ admin.AdminFaultsGetAllRequestObject) (admin.AdminFaultsGetAllResponseObject, error) {
	c, err := a.controlsOrError()
	if err != nil {
		return nil, err
	}
	rules, err := c.FaultRules(ctx)
	if err != nil {
		return nil, err
	}
	out := admin.AdminFaultRulesResult{FaultRules: make([]admin.AdminFaultRule, len(rules))}
	for i, r := range rules {
		out.FaultRules[i] = adminFaultRule(r)
	}
	return admin.AdminFaultsGetAll200JSONResponse{Body: out,
		Headers: admin.AdminFaultsGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminFaultsClear deletes every fault rule.
func (a adminServer) AdminFaultsClear(ctx context.Context, _ admin.AdminFaultsClearRequestObject) (admin.AdminFaultsClearResponseObject, error) {
	c, err := a.controlsOrError()
	if err != nil {
		return nil, err
	}
	if err := c.FaultRulesClear(ctx); err != nil {
		return nil, err
	}
	a.s.changes.changed()
	return admin.AdminFaultsClear200JSONResponse{Body: admin.AdminEmpty{},
		Headers: admin.AdminFaultsClear200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

func adminFaultRule(r mews.FaultRule) admin.AdminFaultRule {
	out := admin.AdminFaultRule{
		Id: r.ID, Operation: admin.AdminFaultOperation(r.Operation), Count: int32(r.Count), Remaining: int32(r.Remaining),
		CreatedUtc: responseTime(r.CreatedUTC),
	}
	if r.Token != nil {
		m := r.TokenMasked
		out.AccessToken = &m
	}
	if r.Status != 0 {
		st := int32(r.Status)
		out.Status = &st
	}
	if r.Message != "" {
		m := r.Message
		out.Message = &m
	}
	if r.Status == http.StatusTooManyRequests {
		ra := int32(max(r.RetryAfterSeconds, 1))
		out.RetryAfterSeconds = &ra
	}
	if r.Delay > 0 {
		d := int32(r.Delay.Milliseconds())
		out.DelayMs = &d
	}
	return out
}
