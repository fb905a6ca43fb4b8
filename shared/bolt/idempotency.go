package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// keyRecord is an idempotency key's state. A key with a Token is held by
// that lease until LeaseUntil; Released is the highest attempt released;
// Done keys are finished. Times are Unix nanoseconds.
type keyRecord struct {
	Done       bool   `json:"done,omitempty"`
	Attempt    int    `json:"attempt"`
	Released   int    `json:"released,omitempty"`
	Token      string `json:"token,omitempty"`
	LeaseUntil int64  `json:"lease_until,omitempty"`
	ExpiresAt  int64  `json:"expires_at"`
}

// getKey returns the live record of key, or nil if there is none (or it
// expired), with the stored record's expiry (0 if none) for reindexing.
func getKey(tx *bbolt.Tx, key string, now int64) (rec *keyRecord, storedExpiry int64, err error) {
	v := tx.Bucket(bucketKeys).Get([]byte(key))
	if v == nil {
		return nil, 0, nil
	}
	rec = new(keyRecord)
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, 0, fmt.Errorf("decode key %q: %w", key, err)
	}
	if rec.ExpiresAt <= now {
		return nil, rec.ExpiresAt, nil
	}
	return rec, rec.ExpiresAt, nil
}

// putKey stores rec, moving its entry in the expiry index.
func putKey(tx *bbolt.Tx, key string, rec *keyRecord, storedExpiry int64) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	exp := tx.Bucket(bucketKeysExpiry)
	if storedExpiry != 0 && storedExpiry != rec.ExpiresAt {
		if err := exp.Delete(join(timeKey(time.Unix(0, storedExpiry)), []byte(key))); err != nil {
			return err
		}
	}
	if err := exp.Put(join(timeKey(time.Unix(0, rec.ExpiresAt)), []byte(key)), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketKeys).Put([]byte(key), v)
}

// Acquire implements webhook.Idempotency.
func (db *DB) Acquire(ctx context.Context, key string, n int, lease time.Duration) (webhook.Lease, error) {
	switch {
	case key == "":
		return webhook.Lease{}, fmt.Errorf("bolt: acquire: %w", webhook.Invalid("key", "required"))
	case n < 1:
		return webhook.Lease{}, fmt.Errorf("bolt: acquire %s: %w", key, webhook.Invalid("attempt", "must be at least 1, got %d", n))
	case lease <= 0:
		return webhook.Lease{}, fmt.Errorf("bolt: acquire %s: %w", key, webhook.Invalid("lease", "must be positive, got %s", lease))
	}
	l := webhook.Lease{Key: key, Attempt: n, Token: token(16)}
	var result error
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		result = nil
		now := db.now().UnixNano()
		rec, stored, err := getKey(tx, key, now)
		if err != nil {
			return err
		}
		if rec == nil {
			rec = new(keyRecord)
		}
		switch {
		case rec.Done:
			result = webhook.ErrDone
			return nil
		case n <= rec.Released:
			result = fmt.Errorf("attempt %d released: %w", rec.Released, webhook.ErrStale)
			return nil
		case rec.Token != "" && rec.LeaseUntil > now:
			result = fmt.Errorf("attempt %d leased for %s more: %w", rec.Attempt, time.Duration(rec.LeaseUntil-now), webhook.ErrHeld)
			return nil
		}
		rec.Attempt, rec.Token = n, l.Token
		rec.LeaseUntil = now + int64(lease)
		rec.ExpiresAt = max(now+int64(db.opts.KeyTTL), rec.LeaseUntil)
		return putKey(tx, key, rec, stored)
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return webhook.Lease{}, fmt.Errorf("bolt: acquire %s attempt %d: %w", key, n, err)
	}
	return l, nil
}

// Finish implements webhook.Idempotency. A lease that expired but was not
// taken over is still the key's current lease, so it can finish.
func (db *DB) Finish(ctx context.Context, l webhook.Lease) error {
	if err := db.endLease(ctx, l, true); err != nil {
		return fmt.Errorf("bolt: finish %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

// Release implements webhook.Idempotency.
func (db *DB) Release(ctx context.Context, l webhook.Lease) error {
	if err := db.endLease(ctx, l, false); err != nil {
		return fmt.Errorf("bolt: release %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

func (db *DB) endLease(ctx context.Context, l webhook.Lease, done bool) error {
	if l.Key == "" || l.Token == "" {
		return webhook.Invalid("lease", "not a lease returned by Acquire")
	}
	var result error
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		result = nil
		now := db.now().UnixNano()
		rec, stored, err := getKey(tx, l.Key, now)
		if err != nil {
			return err
		}
		if rec == nil || rec.Done || rec.Token != l.Token {
			result = fmt.Errorf("not the key's current lease: %w", webhook.ErrConflict)
			return nil
		}
		if done {
			rec.Done = true
		} else {
			rec.Released = max(rec.Released, rec.Attempt)
		}
		rec.Token, rec.LeaseUntil = "", 0
		rec.ExpiresAt = now + int64(db.opts.KeyTTL)
		return putKey(tx, l.Key, rec, stored)
	})
	if err == nil {
		err = result
	}
	return err
}

// ReleaseAllLeases drops every unexpired idempotency lease, as if it had
// expired: the next Acquire of the same attempt takes the key over, and
// Finish or Release with a dropped lease returns ErrConflict. Call it at
// start-up of a single-process deployment, where leases left by a previous
// run are dead. It reads every key (one scan of the keys bucket).
func (db *DB) ReleaseAllLeases(ctx context.Context) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		now := db.now().UnixNano()
		b := tx.Bucket(bucketKeys)
		type held struct {
			key string
			rec *keyRecord
		}
		var hs []held
		err := b.ForEach(func(k, v []byte) error {
			var rec keyRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode key %q: %w", k, err)
			}
			if rec.Token != "" && rec.ExpiresAt > now {
				hs = append(hs, held{string(k), &rec})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, h := range hs {
			h.rec.Token, h.rec.LeaseUntil = "", 0
			if err := putKey(tx, h.key, h.rec, h.rec.ExpiresAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: release all leases: %w", err)
	}
	return nil
}
