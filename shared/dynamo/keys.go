package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Idempotency key attributes (on the key's item in the Keys table, which is
// normally the Deliveries table).
const (
	attrAttempt    = "attempt"     // N, the attempt of the current or last lease
	attrReleased   = "released"    // N, the highest attempt released
	attrDone       = "done"        // BOOL true once finished (absent before)
	attrToken      = "token"       // S, the current lease's token (absent when none)
	attrLeaseUntil = "lease_until" // N, Unix ns
	attrKeyExpires = "key_expires" // N, Unix ns: past it the key counts as absent
)

// maxRounds bounds the optimistic retries of a write that lost a race.
const maxRounds = 5

// keyState is the idempotency state of an item.
type keyState struct {
	live       bool // the key exists and has not expired
	done       bool
	released   int64
	token      string
	leaseUntil int64
}

func decodeKey(it item, now time.Time) keyState {
	exp, ok := getN(it, attrKeyExpires)
	if !ok || exp <= now.UnixNano() {
		return keyState{}
	}
	k := keyState{live: true, done: getBool(it, attrDone), token: getS(it, attrToken)}
	k.released, _ = getN(it, attrReleased)
	k.leaseUntil, _ = getN(it, attrLeaseUntil)
	return k
}

func newToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Acquire implements webhook.Idempotency with one conditional UpdateItem
// and no read. When the condition fails, the item as it was (returned by
// the failed write) tells ErrDone, ErrStale and ErrHeld apart. Two rare
// cases take a second, snapshot-conditioned write instead of an error: a
// key that expired but is still stored (DynamoDB deletes expired items
// late; moto never does) is reset, and an item whose TTL would run out
// before the lease does gets its TTL extended.
func (s *Store) Acquire(ctx context.Context, key string, n int, lease time.Duration) (webhook.Lease, error) {
	switch {
	case key == "":
		return webhook.Lease{}, fmt.Errorf("dynamo: acquire: %w", webhook.Invalid("key", "required"))
	case n < 1:
		return webhook.Lease{}, fmt.Errorf("dynamo: acquire %s: %w", key, webhook.Invalid("attempt", "must be at least 1, got %d", n))
	case lease <= 0:
		return webhook.Lease{}, fmt.Errorf("dynamo: acquire %s: %w", key, webhook.Invalid("lease", "must be positive, got %s", lease))
	}
	l := webhook.Lease{Key: key, Attempt: n, Token: newToken()}
	for range maxRounds {
		now := s.now()
		e := s.acquireExpr(l, now, lease)
		// The fast path: a fresh key, or a live one that is free for n.
		// It keeps an existing TTL, provided it outlasts the lease.
		e.set = append(e.set, "#expires_at = if_not_exists(#expires_at, :kexp_s)")
		e.cond = append(e.cond,
			"attribute_not_exists(#id) OR #expires_at >= :lease_end_s",
			"attribute_not_exists(#key_expires) OR (#key_expires > :now AND attribute_not_exists(#done)"+
				" AND (attribute_not_exists(#released) OR #released < :n)"+
				" AND (attribute_not_exists(#token) OR #lease_until <= :now))")
		_, err := s.api.UpdateItem(ctx, e.updateInput(s.tables.Keys, keyOf(key)))
		if err == nil {
			return l, nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return webhook.Lease{}, transient(err, "acquire %s attempt %d", key, n)
		}
		if old == nil {
			// An absent item passes the condition, so the service did not
			// return the item: read it.
			if old, err = s.getItem(ctx, s.tables.Keys, key); err != nil {
				return webhook.Lease{}, transient(err, "acquire %s attempt %d", key, n)
			}
			if old == nil {
				continue
			}
		}
		k := decodeKey(old, now)
		if k.live {
			switch {
			case k.done:
				return webhook.Lease{}, fmt.Errorf("dynamo: acquire %s attempt %d: %w", key, n, webhook.ErrDone)
			case int64(n) <= k.released:
				return webhook.Lease{}, fmt.Errorf("dynamo: acquire %s attempt %d: attempt %d released: %w", key, n, k.released, webhook.ErrStale)
			case k.token != "" && k.leaseUntil > now.UnixNano():
				return webhook.Lease{}, fmt.Errorf("dynamo: acquire %s attempt %d: leased for %s more: %w",
					key, n, time.Duration(k.leaseUntil-now.UnixNano()), webhook.ErrHeld)
			}
		}
		// The slow path: write what the fast path would have, judged from
		// the snapshot, on condition that the item has not changed since.
		e = s.acquireExpr(l, now, lease)
		if !k.live {
			e.remove = append(e.remove, "#done", "#released")
		}
		kexpS := epochSeconds(keyExpiry(now, lease, s.opts.KeyTTL))
		if oldExp, ok := getN(old, TTLAttribute); ok {
			e.set = append(e.set, "#expires_at = :exp_s")
			e.val(":exp_s", avN(max(oldExp, kexpS)))
		} else if !has(old, attrEndpointID) { // a log that never expires keeps no TTL
			e.set = append(e.set, "#expires_at = :kexp_s")
		}
		e.cond = append(e.cond, "attribute_exists(#id)",
			e.sameAs(old, attrKeyExpires), e.sameAs(old, attrToken), e.sameAs(old, TTLAttribute))
		_, err = s.api.UpdateItem(ctx, e.updateInput(s.tables.Keys, keyOf(key)))
		if err == nil {
			return l, nil
		}
		if _, ok := conditionFailed(err); !ok {
			return webhook.Lease{}, transient(err, "acquire %s attempt %d", key, n)
		}
		// Changed under us: judge again.
	}
	return webhook.Lease{}, fmt.Errorf("dynamo: acquire %s attempt %d: contended: %w", key, n, webhook.ErrHeld)
}

func keyExpiry(now time.Time, lease, ttl time.Duration) time.Time {
	return now.Add(max(ttl, lease))
}

// acquireExpr sets the lease fields of an acquisition.
func (s *Store) acquireExpr(l webhook.Lease, now time.Time, lease time.Duration) *expr {
	kexp := keyExpiry(now, lease, s.opts.KeyTTL)
	e := newExpr().
		val(":n", avN(int64(l.Attempt))).
		val(":token", avS(l.Token)).
		val(":now", avN(now.UnixNano())).
		val(":lease_until", avN(now.Add(lease).UnixNano())).
		val(":lease_end_s", avN(epochSeconds(now.Add(lease)))).
		val(":kexp", avN(kexp.UnixNano())).
		val(":kexp_s", avN(epochSeconds(kexp)))
	e.set = []string{"#attempt = :n", "#token = :token", "#lease_until = :lease_until", "#key_expires = :kexp"}
	return e
}

// Finish implements webhook.Idempotency: one conditional UpdateItem. A
// lease that expired but was not taken over is still the key's current
// lease, so it can finish.
func (s *Store) Finish(ctx context.Context, l webhook.Lease) error {
	if err := s.endLease(ctx, l, true); err != nil {
		return fmt.Errorf("dynamo: finish %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

// Release implements webhook.Idempotency: one conditional UpdateItem.
func (s *Store) Release(ctx context.Context, l webhook.Lease) error {
	if err := s.endLease(ctx, l, false); err != nil {
		return fmt.Errorf("dynamo: release %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

var errNotLease = fmt.Errorf("not the key's current lease: %w", webhook.ErrConflict)

// endExpr ends lease l at now: done, or attempt released.
func (s *Store) endExpr(l webhook.Lease, done bool, now time.Time) *expr {
	e := newExpr().
		val(":token", avS(l.Token)).
		val(":now", avN(now.UnixNano())).
		val(":kexp", avN(now.Add(s.opts.KeyTTL).UnixNano())).
		val(":kexp_s", avN(epochSeconds(now.Add(s.opts.KeyTTL))))
	e.set = []string{"#key_expires = :kexp"}
	if done {
		e.set = append(e.set, "#done = :true")
		e.val(":true", avBool(true))
	} else {
		// Acquire took the lease only for an attempt above released.
		e.set = append(e.set, "#released = #attempt")
	}
	e.remove = []string{"#token", "#lease_until"}
	e.cond = []string{"#token = :token AND #key_expires > :now"}
	return e
}

// endLease finishes or releases l. On a key-only item the key's TTL is
// simply set; an item that also holds a delivery log must keep the log's
// TTL if that is later, which takes a second write judged from the
// snapshot (the Deliverer settles through Settle instead).
func (s *Store) endLease(ctx context.Context, l webhook.Lease, done bool) error {
	if l.Key == "" || l.Token == "" {
		return webhook.Invalid("lease", "not a lease returned by Acquire")
	}
	for range maxRounds {
		now := s.now()
		e := s.endExpr(l, done, now)
		e.set = append(e.set, "#expires_at = :kexp_s")
		e.cond = append(e.cond, "attribute_not_exists(#endpoint_id)")
		_, err := s.api.UpdateItem(ctx, e.updateInput(s.tables.Keys, keyOf(l.Key)))
		if err == nil {
			return nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return transient(err, "end lease")
		}
		if old == nil {
			return errNotLease
		}
		if k := decodeKey(old, now); !k.live || k.token != l.Token {
			return errNotLease
		}
		e = s.endExpr(l, done, now)
		if oldExp, ok := getN(old, TTLAttribute); ok {
			e.set = append(e.set, "#expires_at = :exp_s")
			e.val(":exp_s", avN(max(oldExp, epochSeconds(now.Add(s.opts.KeyTTL)))))
		}
		e.cond = append(e.cond, e.sameAs(old, TTLAttribute))
		_, err = s.api.UpdateItem(ctx, e.updateInput(s.tables.Keys, keyOf(l.Key)))
		if err == nil {
			return nil
		}
		if _, ok := conditionFailed(err); !ok {
			return transient(err, "end lease")
		}
	}
	return fmt.Errorf("contended: %w", webhook.ErrHeld)
}

// Settle implements delivery.Settler: it records attempt a of delivery d
// and ends lease l — finishing the key when done, releasing attempt
// l.Attempt otherwise — in one UpdateItem conditioned on l being the key's
// current lease (ErrConflict otherwise, and nothing is written). The log
// fields are those AppendAttempt writes: the request and the other
// first-call fields only if absent, the attempt replacing one of the same
// number and generation.
//
// That takes the key and the log to be one item: Tables.Keys equal to
// Tables.Deliveries and l.Key equal to d.ID. Otherwise (separate tables,
// or a redrive's key "<delivery id>#<generation>") Settle makes two
// writes: the lease's end, then the log, so a lease no longer held
// (ErrConflict) writes nothing there either.
func (s *Store) Settle(ctx context.Context, l webhook.Lease, done bool, d *webhook.Delivery, a webhook.Attempt) error {
	if err := webhook.CheckAppend(d, a); err != nil {
		return fmt.Errorf("dynamo: settle %s: %w", d.ID, err)
	}
	if l.Key == "" || l.Token == "" {
		return fmt.Errorf("dynamo: settle %s: %w", d.ID, webhook.Invalid("lease", "not a lease returned by Acquire"))
	}
	if !s.sameItem() || l.Key != d.ID {
		return s.settleApart(ctx, l, done, d, a)
	}
	rec, err := encodeLog(d, a)
	if err != nil {
		return fmt.Errorf("dynamo: settle %s: %w", d.ID, err)
	}
	for range maxRounds {
		now := s.now()
		kexp := now.Add(s.opts.KeyTTL)
		e := s.endExpr(l, done, now)
		rec.apply(e, nil)
		settleTTL(e, d, kexp)
		e.cond = append(e.cond, "attribute_not_exists(#log_expires) OR #log_expires > :now")
		_, err := s.api.UpdateItem(ctx, e.updateInput(s.tables.Deliveries, keyOf(d.ID)))
		if err == nil {
			return nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return transient(err, "settle %s attempt %d", d.ID, a.N)
		}
		if old == nil {
			return fmt.Errorf("dynamo: settle %s attempt %d: %w", d.ID, a.N, errNotLease)
		}
		if k := decodeKey(old, now); !k.live || k.token != l.Token {
			return fmt.Errorf("dynamo: settle %s attempt %d: %w", d.ID, a.N, errNotLease)
		}
		// The log part expired but is still stored: start it afresh.
		e = s.endExpr(l, done, now)
		rec.apply(e, old)
		settleTTL(e, d, kexp)
		e.cond = append(e.cond, e.sameAs(old, attrLogExpires))
		_, err = s.api.UpdateItem(ctx, e.updateInput(s.tables.Deliveries, keyOf(d.ID)))
		if err == nil {
			return nil
		}
		if _, ok := conditionFailed(err); !ok {
			return transient(err, "settle %s attempt %d", d.ID, a.N)
		}
	}
	return fmt.Errorf("dynamo: settle %s attempt %d: contended: %w", d.ID, a.N, webhook.ErrHeld)
}

// settleTTL sets the item's TTL to the later of the key's and the log's
// expiry, both known to Settle; a log that never expires keeps no TTL.
func settleTTL(e *expr, d *webhook.Delivery, keyExp time.Time) {
	if d.ExpiresAt.IsZero() {
		e.remove = append(e.remove, "#expires_at")
		return
	}
	e.set = append(e.set, "#expires_at = :exp_s")
	e.val(":exp_s", avN(max(epochSeconds(keyExp), epochSeconds(d.ExpiresAt))))
}

// settleApart is Settle for a key and a log in different items: the
// lease first, as the embedded adapter checks it before writing anything.
// (The two used to be written at once: a holder whose lease had been
// taken over got ErrConflict, yet its attempt overwrote the log line of
// the holder that delivered.)
func (s *Store) settleApart(ctx context.Context, l webhook.Lease, done bool, d *webhook.Delivery, a webhook.Attempt) error {
	end := s.Release
	if done {
		end = s.Finish
	}
	if err := end(ctx, l); err != nil {
		return err
	}
	if err := s.AppendAttempt(ctx, d, a); err != nil {
		return fmt.Errorf("%w: %w", webhook.ErrLogNotWritten, err)
	}
	return nil
}

func keyOf(id string) item { return key(id) }
