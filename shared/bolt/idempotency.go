package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// keyRecord is an idempotency key's stored state: Done keys are finished;
// Released is the highest attempt released; Attempt the attempt that last
// ended. Leases are not stored (see the package doc). Times are Unix
// nanoseconds.
type keyRecord struct {
	Done      bool
	Attempt   int
	Released  int
	ExpiresAt int64
}

const keyRecordVersion = 1

// encode returns version(1) | done(1) | uvarint attempt | uvarint released | expiresAt(8).
func (rec *keyRecord) encode() []byte {
	v := make([]byte, 2, 2+2*binary.MaxVarintLen64+8)
	v[0] = keyRecordVersion
	if rec.Done {
		v[1] = 1
	}
	v = binary.AppendUvarint(v, uint64(rec.Attempt))
	v = binary.AppendUvarint(v, uint64(rec.Released))
	return binary.BigEndian.AppendUint64(v, uint64(rec.ExpiresAt))
}

func decodeKeyRecord(v []byte) (*keyRecord, error) {
	if len(v) < 2 || v[0] != keyRecordVersion {
		return nil, errors.New("corrupt key record")
	}
	rec := &keyRecord{Done: v[1] == 1}
	attempt, n := binary.Uvarint(v[2:])
	released, m := binary.Uvarint(v[2+max(n, 0):])
	if n <= 0 || m <= 0 || len(v) != 2+n+m+8 {
		return nil, errors.New("corrupt key record")
	}
	rec.Attempt, rec.Released = int(attempt), int(released)
	rec.ExpiresAt = int64(binary.BigEndian.Uint64(v[2+n+m:]))
	return rec, nil
}

// getKey returns the live record of key, or nil if there is none (or it
// expired), with the stored record's expiry (0 if none) for reindexing.
func getKey(tx *bbolt.Tx, key string, now int64) (rec *keyRecord, storedExpiry int64, err error) {
	v := tx.Bucket(bucketIDs).Get(keyID(key))
	if v == nil {
		return nil, 0, nil
	}
	rec, err = decodeKeyRecord(v)
	if err != nil {
		return nil, 0, fmt.Errorf("decode key %q: %w", key, err)
	}
	if rec.ExpiresAt <= now {
		return nil, rec.ExpiresAt, nil
	}
	return rec, rec.ExpiresAt, nil
}

// putKey stores rec, moving its entry in the expiry index.
func putKey(tx *bbolt.Tx, key string, rec *keyRecord, storedExpiry int64) error {
	exp := tx.Bucket(bucketKeysExpiry)
	exp.FillPercent = appendFill
	if storedExpiry != 0 && storedExpiry != rec.ExpiresAt {
		if err := exp.Delete(join(timeKey(time.Unix(0, storedExpiry)), []byte(key))); err != nil {
			return err
		}
	}
	if err := exp.Put(join(timeKey(time.Unix(0, rec.ExpiresAt)), []byte(key)), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketIDs).Put(keyID(key), rec.encode())
}

// Leases live in memory (see the package doc): keyLease is a held lease,
// keyState a key with a lease or with a call in progress.
type keyLease struct {
	attempt int
	token   string
	until   int64 // the lease runs out (Unix ns)
	forget  int64 // when the key would have expired, had the lease been stored
}

type keyState struct {
	lease *keyLease
	// busy is non-nil (and closed when done) while an Acquire reads the
	// key's stored state or a Finish or Release commits: other calls on
	// the key wait for it, so that each sees the outcome of the one before.
	busy chan struct{}
}

// lockKey locks db.kmu and returns key's state (nil if none) once no call
// is busy with it; it fails at once if ctx is done or db closed. On error
// it returns with db.kmu unlocked.
func (db *DB) lockKey(ctx context.Context, key string) (*keyState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if db.isClosed() {
		return nil, ErrClosed
	}
	for {
		db.kmu.Lock()
		s := db.leases[key]
		if s == nil || s.busy == nil {
			return s, nil
		}
		busy := s.busy
		db.kmu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-db.done:
			return nil, ErrClosed
		}
	}
}

// unbusyLocked ends s's busy state and forgets s if it holds no lease.
func (db *DB) unbusyLocked(key string, s *keyState) {
	close(s.busy)
	s.busy = nil
	if s.lease == nil {
		delete(db.leases, key)
	}
}

// readKey returns key's live stored record (journaled or in the B+tree),
// or an empty one.
func (db *DB) readKey(ctx context.Context, key string, now int64) (*keyRecord, error) {
	if rec := db.journal.key(key); rec != nil {
		if rec.ExpiresAt <= now {
			rec = new(keyRecord)
		}
		return rec, nil
	}
	if !db.ids.mayContain(keyID(key)) {
		return new(keyRecord), nil
	}
	var rec *keyRecord
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		rec, _, err = getKey(tx, key, now)
		return err
	})
	if err == nil && rec == nil {
		rec = new(keyRecord)
	}
	return rec, err
}

// Acquire implements webhook.Idempotency. It reads the key's stored state
// (done, highest attempt released) and keeps the lease in memory: it
// writes nothing.
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
	if err := db.acquire(ctx, l, lease); err != nil {
		return webhook.Lease{}, fmt.Errorf("bolt: acquire %s attempt %d: %w", key, n, err)
	}
	return l, nil
}

func (db *DB) acquire(ctx context.Context, l webhook.Lease, lease time.Duration) error {
	s, err := db.lockKey(ctx, l.Key)
	if err != nil {
		return err
	}
	now := db.now().UnixNano()
	if s != nil && s.lease != nil && s.lease.until > now {
		held := s.lease
		db.kmu.Unlock()
		return fmt.Errorf("attempt %d leased for %s more: %w", held.attempt, time.Duration(held.until-now), webhook.ErrHeld)
	}
	if s == nil {
		s = new(keyState)
		db.leases[l.Key] = s
	}
	s.busy = make(chan struct{})
	db.kmu.Unlock()

	rec, err := db.readKey(ctx, l.Key, now)
	switch {
	case err != nil:
	case rec.Done:
		err = webhook.ErrDone
	case l.Attempt <= rec.Released:
		err = fmt.Errorf("attempt %d released: %w", rec.Released, webhook.ErrStale)
	}

	db.kmu.Lock()
	if err == nil {
		until := now + int64(lease)
		s.lease = &keyLease{attempt: l.Attempt, token: l.Token, until: until, forget: max(now+int64(db.opts.KeyTTL), until)}
	}
	db.unbusyLocked(l.Key, s)
	db.kmu.Unlock()
	return err
}

// Finish implements webhook.Idempotency. A lease that expired but was not
// taken over is still the key's current lease, so it can finish.
func (db *DB) Finish(ctx context.Context, l webhook.Lease) error {
	if err := db.endLease(ctx, l, true, nil, webhook.Attempt{}); err != nil {
		return fmt.Errorf("bolt: finish %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

// Release implements webhook.Idempotency.
func (db *DB) Release(ctx context.Context, l webhook.Lease) error {
	if err := db.endLease(ctx, l, false, nil, webhook.Attempt{}); err != nil {
		return fmt.Errorf("bolt: release %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

// Settle implements delivery.Settler: it appends attempt a to d's log
// record (as AppendAttempt does) and ends lease l (as Finish, if done, or
// Release do) in one log group, where the two calls cost two appends
// waited for apart. Nothing is written unless l is the key's current
// lease.
func (db *DB) Settle(ctx context.Context, l webhook.Lease, done bool, d *webhook.Delivery, a webhook.Attempt) error {
	if err := webhook.CheckAppend(d, a); err != nil {
		return fmt.Errorf("bolt: settle %s: %w", l.Key, err)
	}
	if err := db.endLease(ctx, l, done, d, a); err != nil {
		return fmt.Errorf("bolt: settle %s attempt %d: %w", l.Key, l.Attempt, err)
	}
	return nil
}

// endLease checks that l is the key's current lease, stores the key's new
// state (done, or attempt released) — with attempt a of delivery d if d
// is not nil — and drops the lease. If the write fails the lease is kept,
// so that the call can be retried.
func (db *DB) endLease(ctx context.Context, l webhook.Lease, done bool, d *webhook.Delivery, a webhook.Attempt) error {
	if l.Key == "" || l.Token == "" {
		return webhook.Invalid("lease", "not a lease returned by Acquire")
	}
	s, err := db.lockKey(ctx, l.Key)
	if err != nil {
		return err
	}
	now := db.now().UnixNano()
	if s == nil || s.lease == nil || s.lease.token != l.Token || s.lease.forget <= now {
		db.kmu.Unlock()
		return fmt.Errorf("not the key's current lease: %w", webhook.ErrConflict)
	}
	attempt := s.lease.attempt
	s.busy = make(chan struct{})
	db.kmu.Unlock()

	err = db.storeOutcome(ctx, l.Key, attempt, done, d, a)
	db.kmu.Lock()
	if err == nil {
		s.lease = nil
	}
	db.unbusyLocked(l.Key, s)
	db.kmu.Unlock()
	return err
}

// storeOutcome journals key's new state: done, or attempt released, with
// attempt a of delivery d if d is not nil. The key is busy: no other call
// reads or writes it meanwhile.
func (db *DB) storeOutcome(ctx context.Context, key string, attempt int, done bool, d *webhook.Delivery, a webhook.Attempt) error {
	now := db.now().UnixNano()
	rec, err := db.readKey(ctx, key, now)
	if err != nil {
		return err
	}
	if rec.Done { // cannot happen: Finish needs the lease
		return fmt.Errorf("key is done: %w", webhook.ErrConflict)
	}
	if done {
		rec.Done = true
	} else {
		rec.Released = max(rec.Released, attempt)
	}
	rec.Attempt = attempt
	rec.ExpiresAt = now + int64(db.opts.KeyTTL)
	entries := []*journalEntry{{key: key, rec: rec}}
	payloads := [][]byte{keyPayload(key, rec)}
	var g *walGroup
	if d != nil {
		mu := db.journal.lockDelivery(d.ID)
		e, payload, err := db.attemptEntry(ctx, d, a)
		if err == nil {
			// The delivery record first: a crash can keep a prefix of an
			// append (a write torn by a power loss), and the record
			// without its key's outcome is redone by the retry (the same
			// attempt, replacing the line), where the key done without
			// the record would drop the retry and the attempt's log line
			// with it.
			g, err = db.journalWrite([]*journalEntry{e, entries[0]}, [][]byte{payload, payloads[0]})
		}
		mu.Unlock()
		if err != nil {
			return err
		}
	} else if g, err = db.journalWrite(entries, payloads); err != nil {
		return err
	}
	return g.wait()
}

// ReleaseAllLeases drops every lease, as if it had expired: the next
// Acquire of the same attempt takes the key over, and Finish or Release
// with a dropped lease returns ErrConflict. Leases are kept in memory, so
// none survives Close; a single-process deployment may still call it at
// start-up, where it is cheap (no scan, no write).
func (db *DB) ReleaseAllLeases(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: release all leases: %w", err)
	}
	if db.isClosed() {
		return fmt.Errorf("bolt: release all leases: %w", ErrClosed)
	}
	db.kmu.Lock()
	defer db.kmu.Unlock()
	for key, s := range db.leases {
		s.lease = nil
		if s.busy == nil {
			delete(db.leases, key)
		}
	}
	return nil
}

// forgetLeases drops the leases that outlived their key (KeyTTL after they
// were taken, or their end if later), as a stored lease would have
// expired with its key. Sweep calls it.
func (db *DB) forgetLeases(now int64) {
	db.kmu.Lock()
	defer db.kmu.Unlock()
	for key, s := range db.leases {
		if s.busy == nil && s.lease != nil && s.lease.forget <= now {
			delete(db.leases, key)
		}
	}
}
