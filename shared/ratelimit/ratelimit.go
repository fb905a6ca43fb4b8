// Package ratelimit paces deliveries per endpoint in one process (local
// mode): fixed one-minute windows, at most perMinute deliveries in each.
// A delivery over the limit is told how long to wait — until the next
// window — and the caller defers it without using an attempt; nothing is
// dropped (DESIGN §6). On AWS the DynamoDB adapter implements the same
// contract across Lambda instances.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Window is the rate limit's window.
const Window = time.Minute

// Local is an in-process limiter. The zero value is ready to use.
type Local struct {
	Now func() time.Time

	mu      sync.Mutex
	windows map[string]window
}

type window struct {
	start time.Time
	used  int
}

// Wait takes one delivery slot for endpointID, or returns how long to wait
// for the next window when this one is used up.
func (l *Local) Wait(_ context.Context, endpointID string, perMinute int) (time.Duration, error) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	start := now.Truncate(Window)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows == nil {
		l.windows = map[string]window{}
	}
	w := l.windows[endpointID]
	if !w.start.Equal(start) {
		w = window{start: start}
	}
	if w.used >= perMinute {
		return start.Add(Window).Sub(now), nil
	}
	w.used++
	l.windows[endpointID] = w
	return 0, nil
}
