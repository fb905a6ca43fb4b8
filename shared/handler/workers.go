package handler

import (
	"sync/atomic"
	"time"
)

// workers runs functions on goroutines that outlive them. A delivery's
// call chain (decode, render, sign, send, log) needs more stack than a new
// goroutine starts with, so a goroutine per record grew — copied — its
// stack on every delivery; a worker keeps the stack it grew for the next
// record. run never waits: with no idle worker it starts a new one, so a
// batch's records still all run at once. A worker idle for longer than
// idle ends.
type workers struct {
	jobs    chan func()
	idle    time.Duration // how long a worker waits for another function
	started atomic.Int64  // workers started, ever
	live    atomic.Int64  // workers running or idle
}

// deliveryWorkers runs the records of every Deliver handler.
var deliveryWorkers = newWorkers(10 * time.Second)

func newWorkers(idle time.Duration) *workers {
	return &workers{jobs: make(chan func()), idle: idle}
}

func (w *workers) run(f func()) {
	select {
	case w.jobs <- f: // an idle worker took it
	default:
		w.started.Add(1)
		w.live.Add(1)
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	defer w.live.Add(-1)
	idle := time.NewTimer(w.idle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(w.idle)
		select {
		case f = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
