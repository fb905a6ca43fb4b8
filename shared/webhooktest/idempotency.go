package webhooktest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Lease lengths: long enough never to run out during a subtest, or short
// enough to run out within one.
const (
	longLease  = time.Minute
	shortLease = 200 * time.Millisecond
)

// TestIdempotency runs the conformance suite of webhook.Idempotency. Leases
// that must run out are 200 ms long; the suite waits at most 3 s for one.
func TestIdempotency(t *testing.T, newKeys func(t *testing.T) webhook.Idempotency) {
	t.Run("AcquireFreshKey", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		for _, n := range []int{1, 3} { // a key may start at any attempt (a redrive, a lost log)
			key := fmt.Sprintf("%s-%d", key, n)
			l, err := k.Acquire(t.Context(), key, n, longLease)
			if err != nil {
				t.Fatalf("Acquire(%s, %d): %v", key, n, err)
			}
			if l.Key != key || l.Attempt != n || l.Token == "" {
				t.Errorf("Acquire(%s, %d) = %+v, want that key and attempt and a token", key, n, l)
			}
		}
	})

	t.Run("HeldLeaseRefusesOthers", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		mustAcquire(t, k, key, 1, longLease)
		for _, n := range []int{1, 2, 6} {
			if _, err := k.Acquire(t.Context(), key, n, longLease); !errors.Is(err, webhook.ErrHeld) {
				t.Errorf("Acquire(held key, %d) = %v, want ErrHeld", n, err)
			}
		}
	})

	t.Run("FinishMakesDone", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		l := mustAcquire(t, k, key, 2, longLease)
		if err := k.Finish(t.Context(), l); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		for _, n := range []int{1, 2, 3, 6} {
			if _, err := k.Acquire(t.Context(), key, n, longLease); !errors.Is(err, webhook.ErrDone) {
				t.Errorf("Acquire(done key, %d) = %v, want ErrDone", n, err)
			}
		}
	})

	t.Run("ReleaseAllowsOnlyLaterAttempts", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		l1 := mustAcquire(t, k, key, 1, longLease)
		if err := k.Release(t.Context(), l1); err != nil {
			t.Fatalf("Release(attempt 1): %v", err)
		}
		if _, err := k.Acquire(t.Context(), key, 1, longLease); !errors.Is(err, webhook.ErrStale) {
			t.Errorf("Acquire(1) after releasing 1 = %v, want ErrStale", err)
		}
		l2 := mustAcquire(t, k, key, 2, longLease)
		if l2.Token == l1.Token {
			t.Errorf("two acquisitions share token %q", l1.Token)
		}
		if _, err := k.Acquire(t.Context(), key, 3, longLease); !errors.Is(err, webhook.ErrHeld) {
			t.Errorf("Acquire(3) while 2 is held = %v, want ErrHeld", err)
		}
		if err := k.Release(t.Context(), l2); err != nil {
			t.Fatalf("Release(attempt 2): %v", err)
		}
		for _, n := range []int{1, 2} {
			if _, err := k.Acquire(t.Context(), key, n, longLease); !errors.Is(err, webhook.ErrStale) {
				t.Errorf("Acquire(%d) after releasing 2 = %v, want ErrStale", n, err)
			}
		}
		l4 := mustAcquire(t, k, key, 4, longLease) // attempts may be skipped
		if err := k.Finish(t.Context(), l4); err != nil {
			t.Fatalf("Finish(attempt 4): %v", err)
		}
		if _, err := k.Acquire(t.Context(), key, 5, longLease); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("Acquire(5) after finishing = %v, want ErrDone", err)
		}
	})

	t.Run("ExpiredLeaseIsTakenOver", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		old := mustAcquire(t, k, key, 1, shortLease)
		if _, err := k.Acquire(t.Context(), key, 1, longLease); !errors.Is(err, webhook.ErrHeld) {
			t.Fatalf("Acquire before the lease ran out = %v, want ErrHeld", err)
		}
		l := acquireWhenFree(t, k, key, 1)
		if l.Attempt != 1 || l.Token == old.Token {
			t.Errorf("takeover lease = %+v, want attempt 1 and a new token (old %q)", l, old.Token)
		}
		if err := k.Finish(t.Context(), old); !errors.Is(err, webhook.ErrConflict) {
			t.Errorf("Finish(lease taken over) = %v, want ErrConflict", err)
		}
		if err := k.Release(t.Context(), old); !errors.Is(err, webhook.ErrConflict) {
			t.Errorf("Release(lease taken over) = %v, want ErrConflict", err)
		}
		if err := k.Finish(t.Context(), l); err != nil {
			t.Errorf("Finish(current lease) = %v", err)
		}
	})

	t.Run("ExpiredLeaseTakenOverAtLaterAttempt", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		mustAcquire(t, k, key, 2, shortLease)
		l := acquireWhenFree(t, k, key, 3)
		if err := k.Release(t.Context(), l); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if _, err := k.Acquire(t.Context(), key, 3, longLease); !errors.Is(err, webhook.ErrStale) {
			t.Errorf("Acquire(3) after releasing 3 = %v, want ErrStale", err)
		}
	})

	// A lease that ran out but was not taken over is still the key's
	// current lease: the slow worker's result counts.
	t.Run("ExpiredLeaseNotTakenOverCanFinish", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		l := mustAcquire(t, k, key, 1, shortLease)
		time.Sleep(2 * shortLease)
		if err := k.Finish(t.Context(), l); err != nil {
			t.Fatalf("Finish(expired, not taken over) = %v, want nil", err)
		}
		if _, err := k.Acquire(t.Context(), key, 1, longLease); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("Acquire after Finish = %v, want ErrDone", err)
		}
	})

	t.Run("ForeignLeaseConflicts", func(t *testing.T) {
		k := newKeys(t)
		held := UniqueID("dlv_")
		l := mustAcquire(t, k, held, 1, longLease)
		tests := []struct {
			name  string
			lease webhook.Lease
		}{
			{"wrong token", webhook.Lease{Key: held, Attempt: 1, Token: "0123456789abcdef0123456789abcdef"}},
			{"unknown key", webhook.Lease{Key: UniqueID("dlv_"), Attempt: 1, Token: l.Token}},
		}
		for _, tc := range tests {
			if err := k.Finish(t.Context(), tc.lease); !errors.Is(err, webhook.ErrConflict) {
				t.Errorf("%s: Finish = %v, want ErrConflict", tc.name, err)
			}
			if err := k.Release(t.Context(), tc.lease); !errors.Is(err, webhook.ErrConflict) {
				t.Errorf("%s: Release = %v, want ErrConflict", tc.name, err)
			}
		}
		if err := k.Finish(t.Context(), l); err != nil {
			t.Errorf("Finish(real lease) after foreign attempts = %v", err)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		k := newKeys(t)
		a, b := UniqueID("dlv_"), UniqueID("dlv_")
		la := mustAcquire(t, k, a, 1, longLease)
		if err := k.Finish(t.Context(), la); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		mustAcquire(t, k, b, 1, longLease)
	})

	t.Run("AttemptMustBePositive", func(t *testing.T) {
		k := newKeys(t)
		if _, err := k.Acquire(t.Context(), UniqueID("dlv_"), 0, longLease); webhook.KindOf(err) != webhook.KindInvalid {
			t.Errorf("Acquire(attempt 0) = %v, want a KindInvalid error", err)
		}
	})

	t.Run("ConcurrentAcquireOneWinner", func(t *testing.T) {
		k := newKeys(t)
		key := UniqueID("dlv_")
		const n = 20
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  int
			held int
		)
		for range n {
			wg.Go(func() {
				_, err := k.Acquire(t.Context(), key, 1, longLease)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, webhook.ErrHeld):
					held++
				default:
					t.Errorf("Acquire: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || held != n-1 {
			t.Errorf("%d concurrent Acquires: %d won, %d ErrHeld; want 1 and %d", n, won, held, n-1)
		}
	})
}

func mustAcquire(t *testing.T, k webhook.Idempotency, key string, n int, lease time.Duration) webhook.Lease {
	t.Helper()
	l, err := k.Acquire(t.Context(), key, n, lease)
	if err != nil {
		t.Fatalf("Acquire(%s, %d): %v", key, n, err)
	}
	return l
}

// acquireWhenFree retries Acquire while the key is held, for at most 3 s.
func acquireWhenFree(t *testing.T, k webhook.Idempotency, key string, n int) webhook.Lease {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		l, err := k.Acquire(t.Context(), key, n, longLease)
		switch {
		case err == nil:
			return l
		case !errors.Is(err, webhook.ErrHeld):
			t.Fatalf("Acquire(%s, %d) after the lease ran out: %v", key, n, err)
		case time.Now().After(deadline):
			t.Fatalf("Acquire(%s, %d): lease of %s still held after 3 s", key, n, shortLease)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
