package storetest

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/mews"
)

// controlsTests check mews.Controls: the fault rules and the clock's state.
func controlsTests() []test {
	return []test{
		{"FaultRulesAddListClear", faultRulesAddListClear},
		{"FaultRuleTakeInOrderExactlyCount", faultRuleTakeInOrderExactlyCount},
		{"FaultRuleTakeByToken", faultRuleTakeByToken},
		{"FaultRuleTakeConcurrently", faultRuleTakeConcurrently},
		{"ClockLoadSwap", clockLoadSwap},
	}
}

func (e *env) controls() mews.Controls {
	e.t.Helper()
	c, ok := e.s.(mews.Controls)
	if !ok {
		e.t.Fatalf("%T does not implement mews.Controls", e.s)
	}
	return c
}

func digest(token string) mews.TokenDigest { return sha256.Sum256([]byte(token)) }

func (e *env) addRule(r mews.FaultRule) mews.FaultRule {
	e.t.Helper()
	if r.CreatedUTC.IsZero() {
		r.CreatedUTC = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	}
	out, err := e.controls().FaultRuleAdd(e.ctx, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// take takes a strike for op and token and returns the rule's id, 0 if none.
func (e *env) take(op, token string) int64 {
	e.t.Helper()
	r, ok, err := e.controls().FaultRuleTake(e.ctx, op, digest(token))
	if err != nil {
		e.t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return r.ID
}

func faultRulesAddListClear(e *env) {
	c := e.controls()
	if rules, err := c.FaultRules(e.ctx); err != nil || len(rules) != 0 {
		e.t.Fatalf("empty store: %v, %v", rules, err)
	}
	tok := digest("secret-access-token")
	a := e.addRule(mews.FaultRule{Operation: "messages/add", Count: 3, Token: &tok, TokenMasked: "secr…oken",
		Status: 429, Message: "Slow down.", RetryAfterSeconds: 30, Delay: 250 * time.Millisecond})
	b := e.addRule(mews.FaultRule{Operation: "messageThreads/getAll", Count: 1, Delay: time.Second})
	if a.ID >= b.ID || a.Remaining != 3 || b.Remaining != 1 {
		e.t.Fatalf("added %+v then %+v: want increasing ids, Remaining = Count", a, b)
	}
	rules, err := c.FaultRules(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(rules) != 2 {
		e.t.Fatalf("%d rules, want 2", len(rules))
	}
	got := rules[0]
	if got.ID != a.ID || got.Operation != "messages/add" || got.Count != 3 || got.Remaining != 3 ||
		got.Token == nil || *got.Token != tok || got.TokenMasked != "secr…oken" || got.Status != 429 ||
		got.Message != "Slow down." || got.RetryAfterSeconds != 30 || got.Delay != 250*time.Millisecond ||
		!got.CreatedUTC.Equal(time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)) {
		e.t.Errorf("first rule read back as %+v", got)
	}
	if got := rules[1]; got.Token != nil || got.Status != 0 || got.Message != "" || got.Delay != time.Second {
		e.t.Errorf("second rule read back as %+v", got)
	}
	if err := c.FaultRulesClear(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if rules, err := c.FaultRules(e.ctx); err != nil || len(rules) != 0 {
		e.t.Fatalf("after clear: %v, %v", rules, err)
	}
	if id := e.take("messages/add", "secret-access-token"); id != 0 {
		e.t.Errorf("a cleared rule struck (%d)", id)
	}
}

func faultRuleTakeInOrderExactlyCount(e *env) {
	if id := e.take("messages/add", "t"); id != 0 {
		e.t.Fatalf("no rule, but %d struck", id)
	}
	a := e.addRule(mews.FaultRule{Operation: "messages/add", Count: 2, Status: 500})
	other := e.addRule(mews.FaultRule{Operation: "messages/getAll", Count: 1, Status: 500})
	b := e.addRule(mews.FaultRule{Operation: "messages/add", Count: 1, Status: 503})
	var got []int64
	for range 4 {
		got = append(got, e.take("messages/add", "t"))
	}
	if want := []int64{a.ID, a.ID, b.ID, 0}; !equal(got, want) {
		e.t.Errorf("strikes %v, want %v", got, want)
	}
	rules, err := e.controls().FaultRules(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(rules) != 3 || rules[0].Remaining != 0 || rules[1].Remaining != 1 || rules[2].Remaining != 0 {
		e.t.Errorf("after the strikes: %+v; used-up rules stay, with Remaining 0", rules)
	}
	if id := e.take("messages/getAll", "t"); id != other.ID {
		e.t.Errorf("messages/getAll struck by %d, want %d", id, other.ID)
	}
	// A rule added after used-up ones strikes again.
	c := e.addRule(mews.FaultRule{Operation: "messages/add", Count: 1, Status: 408})
	if id := e.take("messages/add", "t"); id != c.ID {
		e.t.Errorf("struck by %d, want the new rule %d", id, c.ID)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func faultRuleTakeByToken(e *env) {
	tok := digest("mine")
	mine := e.addRule(mews.FaultRule{Operation: "messages/add", Count: 1, Token: &tok, Status: 401})
	all := e.addRule(mews.FaultRule{Operation: "messages/add", Count: 1, Status: 500})
	if id := e.take("messages/add", "someone else"); id != all.ID {
		e.t.Errorf("another token struck by %d, want the rule for all %d", id, all.ID)
	}
	if id := e.take("messages/add", "someone else"); id != 0 {
		e.t.Errorf("another token struck by %d, want none", id)
	}
	if id := e.take("messages/add", "mine"); id != mine.ID {
		e.t.Errorf("the token struck by %d, want its rule %d", id, mine.ID)
	}
}

// Many requests at once take a rule's strikes exactly Count times.
func faultRuleTakeConcurrently(e *env) {
	const count, workers = 40, 32
	a := e.addRule(mews.FaultRule{Operation: "messages/add", Count: count, Status: 500})
	b := e.addRule(mews.FaultRule{Operation: "messages/add", Count: count, Status: 503})
	var mu sync.Mutex
	taken := map[int64]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range 4 {
				r, ok, err := e.controls().FaultRuleTake(e.ctx, "messages/add", digest("t"))
				if err != nil {
					e.t.Error(err)
					return
				}
				mu.Lock()
				if ok {
					taken[r.ID]++
				} else {
					taken[0]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if taken[a.ID] != count || taken[b.ID] != count || taken[0] != workers*4-2*count {
		e.t.Errorf("strikes %v: want %d of each rule and %d of none", taken, count, workers*4-2*count)
	}
}

func clockLoadSwap(e *env) {
	c := e.controls()
	st, err := c.ClockLoad(e.ctx)
	if err != nil || st != (clock.State{}) {
		e.t.Fatalf("new store: %+v, %v; want the zero state", st, err)
	}
	frozen := clock.State{Frozen: true, At: time.Date(2031, 2, 3, 4, 5, 6, 789012000, time.UTC), Version: 1}
	if ok, err := c.ClockSwap(e.ctx, 0, frozen); err != nil || !ok {
		e.t.Fatalf("first swap: %v, %v", ok, err)
	}
	if ok, err := c.ClockSwap(e.ctx, 0, clock.State{Version: 1}); err != nil || ok {
		e.t.Fatalf("a second first swap: %v, %v; want refused", ok, err)
	}
	if st, err := c.ClockLoad(e.ctx); err != nil || st != frozen {
		e.t.Fatalf("loaded %+v, %v; want %+v", st, err, frozen)
	}
	running := clock.State{Offset: 36*time.Hour + 250*time.Microsecond, Version: 2}
	if ok, err := c.ClockSwap(e.ctx, 5, running); err != nil || ok {
		e.t.Fatalf("swap from a stale version: %v, %v; want refused", ok, err)
	}
	if ok, err := c.ClockSwap(e.ctx, 1, running); err != nil || !ok {
		e.t.Fatalf("swap: %v, %v", ok, err)
	}
	if st, err := c.ClockLoad(e.ctx); err != nil || st != running {
		e.t.Fatalf("loaded %+v, %v; want %+v", st, err, running)
	}
}
