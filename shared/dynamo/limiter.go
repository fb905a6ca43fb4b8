package dynamo

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"
)

// Rate-limit window attributes (RateLimits table, id "<endpoint>#<window
// start, Unix seconds>").
const attrCount = "n" // N, tokens reserved in the window by all instances

// Limiter settings.
const (
	// maxChunk is the most tokens one reservation takes: one SQS batch's
	// worth, so a batch of deliveries costs at most one reservation.
	maxChunk = 10
	// deferJitter spreads deferred deliveries over the first seconds of
	// the next window.
	deferJitter = 3 * time.Second
	// windowTTL keeps a window item this long after the window ends.
	windowTTL = 10 * time.Minute
)

// window is the tokens this Store reserved in an endpoint's current
// one-minute window and has not handed out yet.
type window struct {
	start     int64 // Unix seconds
	tokens    int
	exhausted bool          // the window's limit is reached: don't ask again
	pending   chan struct{} // closed when the reservation in flight ends
}

// chunk is how many tokens one reservation takes: a tenth of the limit,
// 1 to 5, so small limits are not hoarded by one instance.
func chunk(perMinute int) int { return min(maxChunk, max(1, perMinute/10)) }

// Wait implements delivery.Limiter across any number of Stores (Lambda
// instances) sharing the RateLimits table. Windows are fixed minutes of
// the clock. A Store reserves tokens in the endpoint's window item in
// chunks — one UpdateItem ADD n :k conditioned on n ≤ perMinute-k, so the
// window's count never exceeds perMinute — and hands them out from memory:
// most calls make no DynamoDB call. When the window cannot grant even one
// token, Wait returns the time until the next window plus up to 3 s of
// jitter, and the Store asks no more until then. Reserved tokens left at
// the window's end are lost: the limit is never exceeded, but an instance
// may defer while another holds unused tokens. Deliveries that waited for
// a reservation read the window again once it returns; only that
// reservation's own chunk can be spent past its window's turn. perMinute
// ≤ 0 means no limit.
func (s *Store) Wait(ctx context.Context, endpointID string, perMinute int) (time.Duration, error) {
	if perMinute <= 0 {
		return 0, nil
	}
	var start, next time.Time
	var deferral time.Duration

	// One reservation in flight per endpoint and window: concurrent
	// deliveries of a batch wait for it and share its tokens rather than
	// each reserving a chunk of their own.
	s.mu.Lock()
	for {
		// The window is read again after each wait: one that ended
		// meanwhile (a slow reservation at its last second) must not be
		// charged, nor reserved in, for deliveries that start in the
		// next.
		now := s.now()
		start = now.Truncate(time.Minute)
		next = start.Add(time.Minute)
		deferral = next.Sub(now) + rand.N(deferJitter)
		w := s.windows[endpointID]
		if w == nil || w.start != start.Unix() {
			w = &window{start: start.Unix()}
			s.windows[endpointID] = w
		}
		if w.tokens > 0 {
			w.tokens--
			s.mu.Unlock()
			return 0, nil
		}
		if w.exhausted {
			s.mu.Unlock()
			return deferral, nil
		}
		if w.pending == nil {
			w.pending = make(chan struct{})
			defer func(w *window) {
				s.mu.Lock()
				close(w.pending)
				w.pending = nil
				s.mu.Unlock()
			}(w)
			break
		}
		ch := w.pending
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		s.mu.Lock()
	}
	s.mu.Unlock()

	k := chunk(perMinute)
	id := endpointID + "#" + strconv.FormatInt(start.Unix(), 10)
	for range maxRounds {
		e := newExpr().
			val(":k", avN(int64(k))).
			val(":max", avN(int64(perMinute-k))).
			val(":ttl", avN(next.Add(windowTTL).Unix()))
		e.add = []string{"#n :k"}
		e.set = []string{"#expires_at = :ttl"}
		e.cond = []string{"attribute_not_exists(#n) OR #n <= :max"}
		_, err := s.api.UpdateItem(ctx, e.updateInput(s.tables.RateLimits, key(id)))
		if err == nil {
			s.grant(endpointID, start.Unix(), k-1, false)
			return 0, nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return 0, transient(err, "rate limit %s", endpointID)
		}
		used, _ := getN(old, attrCount)
		left := int64(perMinute) - used
		if old == nil || left <= 0 {
			s.grant(endpointID, start.Unix(), 0, true)
			return deferral, nil
		}
		k = int(min(int64(k), left))
	}
	// Other instances keep taking the last tokens: try again shortly.
	return time.Second + rand.N(deferJitter), nil
}

// grant adds tokens reserved in the window starting at start.
func (s *Store) grant(endpointID string, start int64, tokens int, exhausted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[endpointID]
	if w != nil && w.start > start {
		return // reserved in a window that has ended
	}
	if w == nil || w.start != start {
		w = &window{start: start}
		s.windows[endpointID] = w
	}
	w.tokens += tokens
	w.exhausted = w.exhausted || exhausted
}
