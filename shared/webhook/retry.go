package webhook

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry bounds (DESIGN §5): at most 5 retries after the first attempt, so 6
// attempts; no scheduled delay shorter than MinRetryDelay or longer than
// MaxRetryDelay, and Retry-After is capped at MaxRetryDelay too.
const (
	MaxAttempts   = 6
	MaxRetries    = MaxAttempts - 1
	MinRetryDelay = time.Second
	MaxRetryDelay = 2 * time.Hour
	// Jitter spreads each delay uniformly over ±Jitter of its nominal value
	// so that endpoints failing together don't retry in lockstep.
	Jitter = 0.2
)

// DefaultDelays is the default retry schedule: ≈ 10 s, 1 min, 5 min, 30 min, 2 h.
var DefaultDelays = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}

// RetrySettings are an endpoint's retry settings. The zero value means the
// defaults: 5 retries on DefaultDelays.
type RetrySettings struct {
	// MaxRetries is the number of retries after the first attempt, 0..5;
	// nil means 5.
	MaxRetries *int `json:"max_retries,omitempty"`
	// DelaysSeconds is the nominal delay before each retry, in seconds:
	// non-decreasing, each within 1..7200, one per retry. Empty means the
	// first MaxRetries entries of DefaultDelays.
	DelaysSeconds []int `json:"delays_seconds,omitempty"`
}

// Validate checks the settings against DESIGN §5's bounds. Field names are
// relative to the endpoint ("retry.max_retries").
func (r RetrySettings) Validate() error {
	n := MaxRetries
	if r.MaxRetries != nil {
		n = *r.MaxRetries
		if n < 0 || n > MaxRetries {
			return Invalid("retry.max_retries", "must be between 0 and %d, got %d", MaxRetries, n)
		}
	}
	if len(r.DelaysSeconds) == 0 {
		return nil
	}
	if len(r.DelaysSeconds) != n {
		return Invalid("retry.delays_seconds", "must hold one delay per retry (%d), got %d", n, len(r.DelaysSeconds))
	}
	lo, hi := int(MinRetryDelay/time.Second), int(MaxRetryDelay/time.Second)
	for i, d := range r.DelaysSeconds {
		field := fmt.Sprintf("retry.delays_seconds[%d]", i)
		if d < lo || d > hi {
			return Invalid(field, "must be between %d and %d seconds, got %d", lo, hi, d)
		}
		if i > 0 && d < r.DelaysSeconds[i-1] {
			return Invalid(field, "delays must not decrease (%d after %d)", d, r.DelaysSeconds[i-1])
		}
	}
	return nil
}

// Attempts returns how many attempts the settings allow in all (1..6).
func (r RetrySettings) Attempts() int {
	if r.MaxRetries != nil {
		return *r.MaxRetries + 1
	}
	return MaxAttempts
}

// Delay returns the nominal (unjittered) delay before attempt n+1, after
// attempt n (1-based) failed; ok is false when attempt n was the last.
func (r RetrySettings) Delay(n int) (d time.Duration, ok bool) {
	if n < 1 || n >= r.Attempts() {
		return 0, false
	}
	if len(r.DelaysSeconds) > 0 {
		return time.Duration(r.DelaysSeconds[n-1]) * time.Second, true
	}
	return DefaultDelays[n-1], true
}

// NextDelay returns how long to wait before the attempt after failed attempt
// n, and false when no attempt is left. The nominal delay is jittered by
// ±Jitter using rnd (a float in [0,1); nil uses math/rand). retryAfter is the
// receiver's Retry-After (0 if none): it is honoured as a lower bound — we
// never come back sooner than asked, nor sooner than our own schedule — and
// the result never exceeds MaxRetryDelay.
func (r RetrySettings) NextDelay(n int, retryAfter time.Duration, rnd func() float64) (time.Duration, bool) {
	d, ok := r.Delay(n)
	if !ok {
		return 0, false
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	d = time.Duration(float64(d) * (1 - Jitter + 2*Jitter*rnd()))
	if retryAfter > d {
		d = retryAfter
	}
	return min(max(d, MinRetryDelay), MaxRetryDelay), true
}
