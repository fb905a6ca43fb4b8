package bolt

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Leases are kept in memory; a lease nobody ends is forgotten when its key
// would have expired had it been stored (KeyTTL after it was taken), as a
// stored lease expired with its key.
func TestLeaseForgottenWithItsKey(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	db := open(t, Options{Now: clk.Now, SweepInterval: -1, KeyTTL: time.Hour})
	l, err := db.Acquire(ctx, "k", 1, time.Minute)
	must(t, err)
	clk.Advance(30 * time.Minute)
	if _, err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := leaseCount(db); n != 1 {
		t.Fatalf("%d leases after a sweep within KeyTTL, want 1", n)
	}
	clk.Advance(time.Hour)
	if _, err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := leaseCount(db); n != 0 {
		t.Errorf("%d leases after a sweep past KeyTTL, want 0", n)
	}
	if err := db.Finish(ctx, l); !errors.Is(err, webhook.ErrConflict) {
		t.Errorf("Finish(lease past KeyTTL) = %v, want ErrConflict", err)
	}
	if _, err := db.Acquire(ctx, "k", 1, time.Minute); err != nil {
		t.Errorf("Acquire(forgotten key) = %v", err)
	}
}

// An Acquire racing the Release of an expired lease of the same attempt
// sees either the lease (and takes it over: the Release conflicts) or the
// release (ErrStale), never neither.
func TestAcquireRacingRelease(t *testing.T) {
	ctx := t.Context()
	db := open(t, Options{})
	var released, takenOver int
	for i := range 200 {
		key := "race-" + token(4)
		old, err := db.Acquire(ctx, key, 1, time.Nanosecond)
		must(t, err)
		time.Sleep(time.Microsecond)
		var relErr, acqErr error
		var wg sync.WaitGroup
		wg.Go(func() { relErr = db.Release(ctx, old) })
		wg.Go(func() { _, acqErr = db.Acquire(ctx, key, 1, time.Minute) })
		wg.Wait()
		switch {
		case relErr == nil && errors.Is(acqErr, webhook.ErrStale):
			released++
		case errors.Is(relErr, webhook.ErrConflict) && acqErr == nil:
			takenOver++
		default:
			t.Fatalf("round %d: Release = %v, Acquire = %v; want (nil, ErrStale) or (ErrConflict, nil)", i, relErr, acqErr)
		}
	}
	t.Logf("%d released first, %d taken over first", released, takenOver)
	if n := leaseCount(db); n != takenOver || countReleased(t, db) != released {
		t.Errorf("%d leases held, %d keys stored; want %d and %d", n, countReleased(t, db), takenOver, released)
	}
}

func TestReleaseAllLeases(t *testing.T) {
	ctx := t.Context()
	db := open(t, Options{})
	held, err := db.Acquire(ctx, "held", 3, time.Hour)
	must(t, err)
	must(t, db.ReleaseAllLeases(ctx))
	if n := leaseCount(db); n != 0 {
		t.Errorf("%d leases after ReleaseAllLeases, want 0", n)
	}
	if err := db.Release(ctx, held); !errors.Is(err, webhook.ErrConflict) {
		t.Errorf("Release(dropped lease) = %v, want ErrConflict", err)
	}
	if _, err := db.Acquire(ctx, "held", 3, time.Minute); err != nil {
		t.Errorf("Acquire after ReleaseAllLeases = %v", err)
	}
}

func leaseCount(db *DB) int {
	db.kmu.Lock()
	defer db.kmu.Unlock()
	return len(db.leases)
}

// countReleased counts the keys stored as released.
func countReleased(t *testing.T, db *DB) int {
	return count(t, db, []byte("ids/k"))
}
