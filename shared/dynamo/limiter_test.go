package dynamo

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestLimiter(t *testing.T) {
	c := fresh(t, testTables)
	// 10 s into a minute, so the test never straddles a window.
	clk := &clock{t: time.Now().UTC().Truncate(time.Minute).Add(10 * time.Second)}
	ctx := t.Context()

	t.Run("InstancesNeverExceedTheLimit", func(t *testing.T) {
		const (
			limit     = 23 // chunks of 2, and an odd token at the end
			instances = 4
			workers   = 3 // goroutines per instance
		)
		var granted, deferred atomic.Int64
		var wg sync.WaitGroup
		for range instances {
			s := New(c, testTables, Options{Now: clk.Now}) // a Lambda instance
			for range workers {
				wg.Go(func() {
					for {
						wait, err := s.Wait(ctx, "whk_busy", limit)
						if err != nil {
							t.Error(err)
							return
						}
						if wait > 0 {
							deferred.Add(1)
							return
						}
						granted.Add(1)
					}
				})
			}
		}
		wg.Wait()
		if g := granted.Load(); g > limit {
			t.Errorf("%d instances granted %d in one window, limit %d", instances, g, limit)
		} else if g < limit-instances { // all but tokens stranded in instances' caches
			t.Errorf("granted %d of %d: too many tokens lost", g, limit)
		}
		if d := deferred.Load(); d != instances*workers {
			t.Errorf("%d workers deferred, want all %d", d, instances*workers)
		}
	})

	t.Run("DeferUntilNextWindowThenGrant", func(t *testing.T) {
		s := New(c, testTables, Options{Now: clk.Now})
		for i := range 3 {
			if wait, err := s.Wait(ctx, "whk_small", 3); err != nil || wait != 0 {
				t.Fatalf("Wait %d under the limit = %s, %v; want 0", i+1, wait, err)
			}
		}
		wait, err := s.Wait(ctx, "whk_small", 3)
		if err != nil {
			t.Fatal(err)
		}
		if wait < 50*time.Second || wait > 50*time.Second+deferJitter {
			t.Errorf("Wait over the limit = %s, want the 50 s to the next window plus up to %s", wait, deferJitter)
		}
		// Another instance finds the window exhausted too.
		if wait, _ := New(c, testTables, Options{Now: clk.Now}).Wait(ctx, "whk_small", 3); wait <= 0 {
			t.Errorf("another instance's Wait over the limit = %s, want a deferral", wait)
		}
		// Other endpoints are not affected.
		if wait, _ := s.Wait(ctx, "whk_other", 3); wait != 0 {
			t.Errorf("Wait for another endpoint = %s, want 0", wait)
		}
		clk.Add(time.Minute)
		if wait, err := s.Wait(ctx, "whk_small", 3); err != nil || wait != 0 {
			t.Errorf("Wait in the next window = %s, %v; want 0", wait, err)
		}
	})

	t.Run("MostWaitsCostNoCall", func(t *testing.T) {
		api := count(c)
		s := New(api, testTables, Options{Now: clk.Now})
		for range 20 {
			if wait, err := s.Wait(ctx, "whk_calls", 100); err != nil || wait != 0 {
				t.Fatalf("Wait = %s, %v", wait, err)
			}
		}
		calls := api.reset()
		if calls["UpdateItem"] != 2 || len(calls) != 1 {
			t.Errorf("20 Waits at 100/min made %v, want 2 UpdateItems (chunks of 10)", calls)
		}
		t.Logf("20 grants: %v", calls)
	})

	if wait, err := New(c, testTables, Options{}).Wait(ctx, "whk_free", 0); err != nil || wait != 0 {
		t.Errorf("Wait(no limit) = %s, %v; want 0", wait, err)
	}
}

// slowFirstReservation holds the first UpdateItem until release is closed
// (a reservation slowed by throttling retries, say) and counts the
// rate-limit reservations sent after the clock left the window they name.
type slowFirstReservation struct {
	API
	clk     *clock
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	stale   atomic.Int64
}

func (c *slowFirstReservation) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	first := false
	c.once.Do(func() { first = true })
	if first {
		close(c.entered)
		<-c.release
	} else if id, ok := in.Key[HashKey].(*types.AttributeValueMemberS); ok {
		_, start, _ := strings.Cut(id.Value, "#")
		if s, err := strconv.ParseInt(start, 10, 64); err == nil && c.clk.Now().Unix() >= s+60 {
			c.stale.Add(1)
		}
	}
	return c.API.UpdateItem(ctx, in, o...)
}

// TestWaitersReadTheWindowAgain: deliveries that waited, in a window's
// last second, behind a slow reservation are charged to the window they
// start in once it has turned: they used to take the ended window's
// tokens and reserve more in its item, on top of the next window's limit.
func TestWaitersReadTheWindowAgain(t *testing.T) {
	c := fresh(t, testTables)
	clk := &clock{t: time.Now().UTC().Truncate(time.Minute).Add(59 * time.Second)}
	ctx := t.Context()
	const limit = 20 // chunks of 2
	slow := &slowFirstReservation{API: c, clk: clk, entered: make(chan struct{}), release: make(chan struct{})}
	a := New(slow, testTables, Options{Now: clk.Now}) // one Lambda instance, a batch of 10
	b := New(c, testTables, Options{Now: clk.Now})    // another instance
	var late atomic.Int64
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if w, err := a.Wait(ctx, "whk_edge", limit); err == nil && w == 0 {
				late.Add(1)
			}
		})
	}
	<-slow.entered
	time.Sleep(50 * time.Millisecond) // the other nine wait for the reservation in flight
	clk.Add(2 * time.Second)          // the next window has begun
	next := 0
	for {
		w, err := b.Wait(ctx, "whk_edge", limit)
		if err != nil {
			t.Fatal(err)
		}
		if w > 0 {
			break
		}
		next++
	}
	close(slow.release)
	wg.Wait()
	// The reservation in flight at the turn may still be spent (a chunk).
	if got, most := next+int(late.Load()), limit+chunk(limit); got > most || slow.stale.Load() != 0 {
		t.Errorf("%d deliveries granted once the next window began (%d waited at the turn, %d from another instance), want at most %d; %d reservations in the ended window",
			got, late.Load(), next, most, slow.stale.Load())
	}
}
