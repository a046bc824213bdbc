package server

import "context"

// Probe reaches into a server that New made, for the tests of package
// server_test: it tells them when what the server does in the background
// (webhook attempts, journal entries, the live views' change signal) has
// caught up with what they did.
type Probe struct{ s *Server }

// NewProbe sets cfg up so that New(cfg) hands its server to the probe.
func NewProbe(cfg *Config) *Probe {
	p := &Probe{}
	cfg.seen = func(s *Server) { p.s = s }
	return p
}

// SettleWebhooks waits until every webhook attempt begun so far has ended
// and been recorded (dispatcher.settled).
func (p *Probe) SettleWebhooks(ctx context.Context) error {
	return p.s.webhooks.settled(ctx)
}

// SettleChanges waits until every change signalled so far has reached the
// console's live views (a recorded webhook attempt and a written journal
// entry are changes too, so both are settled first), then returns the
// generation of the changes so far: the id of the console's events. A
// test that settles before and after what it does knows which events that
// caused: those of a later generation than the first.
func (p *Probe) SettleChanges(ctx context.Context) (uint64, error) {
	if err := p.SettleWebhooks(ctx); err != nil {
		return 0, err
	}
	if p.s.journal != nil {
		if err := p.s.journal.sync(ctx); err != nil {
			return 0, err
		}
	}
	if err := p.s.changes.settled(ctx); err != nil {
		return 0, err
	}
	return p.s.changes.Generation(), nil
}
