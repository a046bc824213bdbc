package server

import (
	"context"
)

// admit is the one step, between authentication and the work of operation
// op, where the server refuses a request that is otherwise fine: first a
// fault rule (admin API faults/add), then the rate limit of its
// AccessToken, then a random injected fault (-faults). It runs inside the
// handler because both need what only the validated body tells, the
// operation's caller; a middleware would have to decode the body again.
// Requests refused earlier (invalid, unauthenticated) are not counted
// against any AccessToken: the limiter keys only tokens that exist.
// key is the SHA-256 of the AccessToken (computed once, at configuration).
func (s *Server) admit(ctx context.Context, op string, key tokenKey) error {
	// A fault rule comes first (faultrules.go says why).
	if struck, err := s.strikeRule(ctx, op, key); struck || err != nil {
		return err
	}
	if s.limiter != nil {
		if wait, ok := s.limiter.admit(key, s.clock()); !ok {
			return tooManyRequests(s.limiter.limit, wait)
		}
	}
	if s.faults != nil {
		return s.faults.inject(ctx, op)
	}
	return nil
}
