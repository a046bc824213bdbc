package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mewsref/mewsref/clock"
	"github.com/mewsref/mewsref/mews"
)

var _ mews.Controls = (*DB)(nil)

// controls is the DB's cache of what steers a test. The process that opens
// the file writes every change through its single writer, so the cache is
// exact for it; several server processes on one SQLite file would not see
// each other's rules and clock (that is what PostgreSQL is for).
type controls struct {
	// liveRules is how many rules have strikes left, so that a request
	// costs one atomic load when there is none. It is set from a count
	// inside the writer's transaction after every change; if a change's
	// outcome is unknown it is set to 1, which only costs queries.
	liveRules atomic.Int64
	clock     atomic.Pointer[clock.State]
}

const faultRuleColumns = `id, operation, count, remaining, token, token_masked, status, message, retry_after, delay_ms, created_us`

// loadControls fills the cache at Open.
func (db *DB) loadControls(ctx context.Context) error {
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM fault_rules WHERE remaining > 0`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: load fault rules: %w", err)
	}
	db.controls.liveRules.Store(n)
	st, err := scanClock(db.read.QueryRowContext(ctx, `SELECT frozen_at_us, offset_us, version FROM clock`))
	if err != nil {
		return err
	}
	db.controls.clock.Store(&st)
	return nil
}

func scanFaultRule(row interface{ Scan(...any) error }) (mews.FaultRule, error) {
	var r mews.FaultRule
	var token []byte
	var masked, message sql.NullString
	var status, retry, delay sql.NullInt64
	var created int64
	if err := row.Scan(&r.ID, &r.Operation, &r.Count, &r.Remaining, &token, &masked, &status, &message, &retry, &delay, &created); err != nil {
		return r, err
	}
	if len(token) == len(mews.TokenDigest{}) {
		r.Token = (*mews.TokenDigest)(token)
	}
	r.TokenMasked, r.Message = masked.String, message.String
	r.Status, r.RetryAfterSeconds = int(status.Int64), int(retry.Int64)
	r.Delay = time.Duration(delay.Int64) * time.Millisecond
	r.CreatedUTC = time.UnixMicro(created).UTC()
	return r, nil
}

// nullable turns the zero value into NULL.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// recountRules sets liveRules from the table, inside tx.
func (db *DB) recountRules(ctx context.Context, tx *sql.Tx) error {
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM fault_rules WHERE remaining > 0`).Scan(&n); err != nil {
		return err
	}
	db.controls.liveRules.Store(n)
	return nil
}

// controlWrite runs fn through the writer; when it fails, the cache of the
// rules may be stale, and is made to query.
func (db *DB) controlWrite(ctx context.Context, fn writeFunc) error {
	err := db.writer.do(ctx, fn)
	if err != nil {
		db.controls.liveRules.Store(1)
	}
	return err
}

// FaultRuleAdd stores a rule through the writer.
func (db *DB) FaultRuleAdd(ctx context.Context, r mews.FaultRule) (mews.FaultRule, error) {
	var token any
	if r.Token != nil {
		token = r.Token[:]
	}
	var out mews.FaultRule
	err := db.controlWrite(ctx, func(ctx context.Context, tx *txn) error {
		var err error
		out, err = scanFaultRule(tx.QueryRowContext(ctx, `INSERT INTO fault_rules
			(operation, count, remaining, token, token_masked, status, message, retry_after, delay_ms, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+faultRuleColumns,
			r.Operation, r.Count, r.Count, token, nullable(r.TokenMasked), nullable(r.Status), nullable(r.Message),
			nullable(r.RetryAfterSeconds), nullable(r.Delay.Milliseconds()), r.CreatedUTC.UnixMicro()))
		if err != nil {
			return fmt.Errorf("sqlite: add fault rule: %w", err)
		}
		return db.recountRules(ctx, tx.Tx)
	})
	return out, err
}

// FaultRules returns every rule in the order added.
func (db *DB) FaultRules(ctx context.Context) ([]mews.FaultRule, error) {
	rows, err := db.reads.QueryContext(ctx, `SELECT `+faultRuleColumns+` FROM fault_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fault rules: %w", err)
	}
	defer rows.Close()
	rules := []mews.FaultRule{}
	for rows.Next() {
		r, err := scanFaultRule(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: fault rules: %w", err)
		}
		rules = append(rules, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: fault rules: %w", err)
	}
	return rules, nil
}

// FaultRulesClear deletes every rule.
func (db *DB) FaultRulesClear(ctx context.Context) error {
	return db.controlWrite(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fault_rules`); err != nil {
			return fmt.Errorf("sqlite: clear fault rules: %w", err)
		}
		return db.recountRules(ctx, tx.Tx)
	})
}

// FaultRuleTake costs one atomic load when no rule has strikes left;
// otherwise one UPDATE ... RETURNING through the single writer, which makes
// the take atomic.
func (db *DB) FaultRuleTake(ctx context.Context, op string, token mews.TokenDigest) (mews.FaultRule, bool, error) {
	if db.controls.liveRules.Load() == 0 {
		return mews.FaultRule{}, false, nil
	}
	return db.takeFaultRule(ctx, op, token)
}

// takeFaultRule is FaultRuleTake when some rule has strikes left: apart, so
// that what its closure captures is not allocated when none has.
func (db *DB) takeFaultRule(ctx context.Context, op string, token mews.TokenDigest) (mews.FaultRule, bool, error) {
	var r mews.FaultRule
	found := false
	err := db.controlWrite(ctx, func(ctx context.Context, tx *txn) error {
		var err error
		r, err = scanFaultRule(tx.QueryRowContext(ctx, `UPDATE fault_rules SET remaining = remaining - 1
			WHERE id = (SELECT id FROM fault_rules
				WHERE remaining > 0 AND operation = ? AND (token IS NULL OR token = ?) ORDER BY id LIMIT 1)
			RETURNING `+faultRuleColumns, op, token[:]))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: take fault rule: %w", err)
		}
		found = true
		if r.Remaining == 0 {
			return db.recountRules(ctx, tx.Tx)
		}
		return nil
	})
	return r, found && err == nil, err
}

func scanClock(row *sql.Row) (clock.State, error) {
	var frozen sql.NullInt64
	var st clock.State
	var offset int64
	err := row.Scan(&frozen, &offset, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return clock.State{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("sqlite: load clock: %w", err)
	}
	if frozen.Valid {
		st.Frozen, st.At = true, time.UnixMicro(frozen.Int64).UTC()
	}
	st.Offset = time.Duration(offset) * time.Microsecond
	return st, nil
}

// ClockLoad returns the cached state: the file's writer is this process.
func (db *DB) ClockLoad(context.Context) (clock.State, error) {
	return *db.controls.clock.Load(), nil
}

// ClockSwap stores next if the stored version is still prev.
func (db *DB) ClockSwap(ctx context.Context, prev int64, next clock.State) (bool, error) {
	var frozen any
	if next.Frozen {
		frozen = next.At.UnixMicro()
	}
	swapped := false
	err := db.writer.doStatement(ctx, func(ctx context.Context, tx *txn) error {
		q := `UPDATE clock SET frozen_at_us = ?, offset_us = ?, version = ? WHERE version = ?`
		if prev == 0 {
			q = `INSERT INTO clock (frozen_at_us, offset_us, version, one) VALUES (?, ?, ?, 1 + ?) ON CONFLICT DO NOTHING`
		}
		res, err := tx.ExecContext(ctx, q, frozen, next.Offset.Microseconds(), next.Version, prev)
		if err != nil {
			return fmt.Errorf("sqlite: store clock: %w", err)
		}
		n, err := res.RowsAffected()
		swapped = n == 1
		return err
	})
	if err != nil || !swapped {
		return false, err
	}
	for {
		cur := db.controls.clock.Load()
		if cur.Version >= next.Version || db.controls.clock.CompareAndSwap(cur, &next) {
			return true, nil
		}
	}
}
