package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/mews"
)

var _ mews.Controls = (*DB)(nil)

const faultRuleColumns = `id, operation, count, remaining, token, token_masked, status, message, retry_after, delay_ms, created_utc`

func scanFaultRule(row pgx.Row) (mews.FaultRule, error) {
	var r mews.FaultRule
	var token []byte
	var masked, message *string
	var status, retry, delay *int32
	if err := row.Scan(&r.ID, &r.Operation, &r.Count, &r.Remaining, &token, &masked, &status, &message, &retry, &delay, &r.CreatedUTC); err != nil {
		return r, err
	}
	if len(token) == len(mews.TokenDigest{}) {
		r.Token = (*mews.TokenDigest)(token)
	}
	if masked != nil {
		r.TokenMasked = *masked
	}
	if message != nil {
		r.Message = *message
	}
	if status != nil {
		r.Status = int(*status)
	}
	if retry != nil {
		r.RetryAfterSeconds = int(*retry)
	}
	if delay != nil {
		r.Delay = time.Duration(*delay) * time.Millisecond
	}
	r.CreatedUTC = utc(r.CreatedUTC)
	return r, nil
}

// null turns the zero value into NULL.
func null[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// FaultRuleAdd stores a rule.
func (db *DB) FaultRuleAdd(ctx context.Context, r mews.FaultRule) (mews.FaultRule, error) {
	var token []byte
	if r.Token != nil {
		token = r.Token[:]
	}
	out, err := scanFaultRule(db.pool.QueryRow(ctx, `INSERT INTO fault_rules
		(operation, count, remaining, token, token_masked, status, message, retry_after, delay_ms, created_utc)
		VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+faultRuleColumns,
		r.Operation, r.Count, token, null(r.TokenMasked), null(int32(r.Status)), null(r.Message),
		null(int32(r.RetryAfterSeconds)), null(int32(r.Delay.Milliseconds())), r.CreatedUTC.Truncate(time.Microsecond)))
	if err != nil {
		return out, fmt.Errorf("postgres: add fault rule: %w", err)
	}
	return out, nil
}

// FaultRules returns every rule in the order added.
func (db *DB) FaultRules(ctx context.Context) ([]mews.FaultRule, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+faultRuleColumns+` FROM fault_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: fault rules: %w", err)
	}
	rules, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (mews.FaultRule, error) { return scanFaultRule(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: fault rules: %w", err)
	}
	if rules == nil {
		rules = []mews.FaultRule{}
	}
	return rules, nil
}

// FaultRulesClear deletes every rule.
func (db *DB) FaultRulesClear(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM fault_rules`); err != nil {
		return fmt.Errorf("postgres: clear fault rules: %w", err)
	}
	return nil
}

// admitSQL reads the clock's state and the oldest rule with strikes left
// that matches the request: a read, one round trip for every request.
const admitSQL = `SELECT c.frozen_at, c.offset_us, c.version,
		(SELECT id FROM fault_rules
			WHERE remaining > 0 AND operation = $1 AND (token IS NULL OR token = $2)
			ORDER BY id LIMIT 1)
	FROM (VALUES (1)) one LEFT JOIN clock c ON true`

// takeSQL takes one strike of rule $1 if it has one left. The UPDATE takes
// the row's lock and, if another process took a strike meanwhile, checks
// remaining > 0 again on the row as that process committed it (READ
// COMMITTED), so the last strike goes to exactly one of them; the loser
// looks again (the next rule may match).
const takeSQL = `UPDATE fault_rules SET remaining = remaining - 1 WHERE id = $1 AND remaining > 0
	RETURNING ` + faultRuleColumns

var _ mews.Admitter = (*DB)(nil)

// Admit reads the clock's state and the matching rule in one round trip
// and, only when a rule matches, takes its strike in a second one.
func (db *DB) Admit(ctx context.Context, op string, token mews.TokenDigest) (clock.State, mews.FaultRule, bool, error) {
	for {
		var st clock.State
		var frozen *time.Time
		var offset, version, id *int64
		err := db.pool.QueryRow(ctx, admitSQL, op, token[:]).Scan(&frozen, &offset, &version, &id)
		if err != nil {
			return st, mews.FaultRule{}, false, fmt.Errorf("postgres: admit: %w", err)
		}
		if version != nil {
			st.Version, st.Offset = *version, time.Duration(*offset)*time.Microsecond
			if frozen != nil {
				st.Frozen, st.At = true, utc(*frozen)
			}
		}
		if id == nil {
			return st, mews.FaultRule{}, false, nil
		}
		r, err := scanFaultRule(db.pool.QueryRow(ctx, takeSQL, *id))
		if errors.Is(err, pgx.ErrNoRows) {
			continue // another process took the rule's last strike
		}
		if err != nil {
			return st, r, false, fmt.Errorf("postgres: take fault rule: %w", err)
		}
		return st, r, true, nil
	}
}

// FaultRuleTake takes one strike of the oldest matching rule (Admit
// without the clock).
func (db *DB) FaultRuleTake(ctx context.Context, op string, token mews.TokenDigest) (mews.FaultRule, bool, error) {
	_, r, ok, err := db.Admit(ctx, op, token)
	return r, ok, err
}

// ClockLoad reads the shared state of the clock: one primary-key read.
func (db *DB) ClockLoad(ctx context.Context) (clock.State, error) {
	var st clock.State
	var frozen *time.Time
	var offset int64
	err := db.pool.QueryRow(ctx, `SELECT frozen_at, offset_us, version FROM clock`).Scan(&frozen, &offset, &st.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return clock.State{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("postgres: load clock: %w", err)
	}
	if frozen != nil {
		st.Frozen, st.At = true, utc(*frozen)
	}
	st.Offset = time.Duration(offset) * time.Microsecond
	return st, nil
}

// ClockSwap stores next if the stored version is still prev: a conditional
// UPDATE, or an INSERT that a concurrent first one makes a no-op.
func (db *DB) ClockSwap(ctx context.Context, prev int64, next clock.State) (bool, error) {
	var frozen *time.Time
	if next.Frozen {
		frozen = &next.At
	}
	q := `UPDATE clock SET frozen_at = $1, offset_us = $2, version = $3 WHERE version = $4`
	if prev == 0 {
		q = `INSERT INTO clock (one, frozen_at, offset_us, version) SELECT 1, $1, $2, $3 WHERE $4::bigint = 0
			ON CONFLICT (one) DO NOTHING`
	}
	tag, err := db.pool.Exec(ctx, q, frozen, next.Offset.Microseconds(), next.Version, prev)
	if err != nil {
		return false, fmt.Errorf("postgres: store clock: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
