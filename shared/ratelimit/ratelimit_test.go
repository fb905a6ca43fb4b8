package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestLocal(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 10, 0, time.UTC)
	l := &Local{Now: func() time.Time { return now }}
	ctx := context.Background()
	for i := range 3 {
		if wait, _ := l.Wait(ctx, "a", 3); wait != 0 {
			t.Fatalf("delivery %d waited %v within the limit", i+1, wait)
		}
	}
	if got, want := func() time.Duration { w, _ := l.Wait(ctx, "a", 3); return w }(), 50*time.Second; got != want {
		t.Errorf("4th delivery waits %v, want %v (to the next window)", got, want)
	}
	if wait, _ := l.Wait(ctx, "b", 3); wait != 0 {
		t.Errorf("another endpoint is limited by a's window")
	}
	now = now.Add(50 * time.Second)
	if wait, _ := l.Wait(ctx, "a", 3); wait != 0 {
		t.Errorf("new window still limited: %v", wait)
	}
}
