package handler

import (
	"sync"
	"testing"
	"time"
)

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestWorkersRunAtOnceAndAreReused(t *testing.T) {
	w := newWorkers(time.Minute)
	const n = 10
	batch := func() {
		release := make(chan struct{})
		var started, done sync.WaitGroup
		started.Add(n)
		done.Add(n)
		for range n {
			w.run(func() {
				defer done.Done()
				started.Done()
				<-release // every function waits for all n to have started
			})
		}
		started.Wait()
		close(release)
		done.Wait()
	}
	batch()
	if got, want := w.started.Load(), int64(n); got != want {
		t.Fatalf("first batch started %d workers, want %d", got, want)
	}
	// A worker is idle again once its function returned and it waits for
	// the next; a batch that finds one not there yet starts another. So
	// over many batches a few more may start, never a batch's worth each.
	const batches = 20
	for range batches {
		time.Sleep(10 * time.Millisecond)
		batch()
	}
	if got, most := w.started.Load(), int64(2*n); got > most {
		t.Errorf("after %d more batches of %d, %d workers were started in all, want at most %d (reused)", batches, n, got, most)
	}
}

func TestWorkersEndWhenIdle(t *testing.T) {
	w := newWorkers(20 * time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(3)
	for range 3 {
		w.run(wg.Done)
	}
	wg.Wait()
	waitFor(t, "idle workers to end", func() bool { return w.live.Load() == 0 })
	// With every worker gone, the next function starts a new one.
	before := w.started.Load()
	ran := make(chan struct{})
	w.run(func() { close(ran) })
	<-ran
	if got, want := w.started.Load(), before+1; got != want {
		t.Errorf("after the idle workers ended, %d workers started in all, want %d", got, want)
	}
}
