package mews

import (
	"context"
	"time"

	"github.com/mewsref/mewsref/clock"
)

// Controls is the storage contract of what steers a test: the fault rules
// and the state of the clock. It lives in the store so that every replica
// on one PostgreSQL database follows the same rules and the same clock.
// Both engines implement it.
type Controls interface {
	// FaultRuleAdd stores r as the newest rule, with Remaining = Count, and
	// returns it with its ID and CreatedUTC as stored.
	FaultRuleAdd(ctx context.Context, r FaultRule) (FaultRule, error)
	// FaultRules returns every rule, in the order added.
	FaultRules(ctx context.Context) ([]FaultRule, error)
	// FaultRulesClear deletes every rule.
	FaultRulesClear(ctx context.Context) error
	// FaultRuleTake takes one strike of the oldest rule that has strikes
	// left and matches a request of op with the AccessToken whose digest is
	// token (a rule without a token matches every token), and returns that
	// rule with Remaining after the take. ok is false when no rule matches.
	// Atomic across every process of the database: a rule's strikes are
	// taken exactly Count times in all. When no rule has strikes left it
	// should cost next to nothing: it runs for every request.
	FaultRuleTake(ctx context.Context, op string, token TokenDigest) (r FaultRule, ok bool, err error)

	clock.Store
}

// Admitter is implemented by a store whose every query is a round trip to
// a database server (PostgreSQL): Admit reads the clock's state and takes a
// strike of a fault rule (as FaultRuleTake) in one round trip, so that a
// request asks the store once for both instead of twice.
type Admitter interface {
	Admit(ctx context.Context, op string, token TokenDigest) (clock.State, FaultRule, bool, error)
}

// TokenDigest is the SHA-256 digest of an AccessToken: what stores keep
// instead of the token.
type TokenDigest [32]byte

// FaultRule is a targeted fault: the next Count requests of Operation (of
// one AccessToken, if Token is set) are answered Status, or delayed by
// Delay and then served (with both: delayed, then answered Status).
type FaultRule struct {
	ID        int64 // the order of the rules
	Operation string
	Count     int
	Remaining int
	// Token, if not nil, limits the rule to one AccessToken; TokenMasked is
	// that token masked, for display.
	Token       *TokenDigest
	TokenMasked string
	Status      int    // 0: none (a delay only)
	Message     string // "": the default message
	// RetryAfterSeconds is the Retry-After of a 429 (0: 1 s).
	RetryAfterSeconds int
	Delay             time.Duration // 0: none; millisecond precision
	CreatedUTC        time.Time
}
