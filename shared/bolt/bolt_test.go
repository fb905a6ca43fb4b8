package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

func open(t testing.TB, opts Options) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "webhooks.db"), opts)
}

func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestEndpointStore(t *testing.T) {
	webhooktest.TestEndpointStore(t, func(t *testing.T) webhook.EndpointStore { return open(t, Options{}) })
}

func TestIdempotency(t *testing.T) {
	webhooktest.TestIdempotency(t, func(t *testing.T) webhook.Idempotency { return open(t, Options{}) })
}

func TestDeliveryLog(t *testing.T) {
	webhooktest.TestDeliveryLog(t, func(t *testing.T) webhook.DeliveryLog { return open(t, Options{}) })
}

func TestQueue(t *testing.T) {
	webhooktest.TestQueue(t, func(t *testing.T) webhook.Queue { return open(t, Options{}) })
}

func TestDeadLetters(t *testing.T) {
	webhooktest.TestDeadLetters(t, func(t *testing.T) webhook.DeadLetters { return open(t, Options{}) })
}

// The suites again, with every subtest sharing one DB, as they would share
// one moto server.
func TestSuitesOnOneDB(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	db := open(t, Options{})
	t.Run("EndpointStore", func(t *testing.T) {
		webhooktest.TestEndpointStore(t, func(*testing.T) webhook.EndpointStore { return db })
	})
	t.Run("Idempotency", func(t *testing.T) {
		webhooktest.TestIdempotency(t, func(*testing.T) webhook.Idempotency { return db })
	})
	t.Run("DeliveryLog", func(t *testing.T) {
		webhooktest.TestDeliveryLog(t, func(*testing.T) webhook.DeliveryLog { return db })
	})
	t.Run("DeadLetters", func(t *testing.T) {
		webhooktest.TestDeadLetters(t, func(*testing.T) webhook.DeadLetters { return db })
	})
}

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := webhooktest.Now()
	ep := webhooktest.NewEndpoint("whk_reopen")
	d := webhooktest.NewDelivery(ep.ID, "evt_1", now)
	a := webhooktest.NewAttempt(1, now, 502)
	dl := webhooktest.NewDeadLetter("dlv_dead", ep.ID, now)
	must(t, db.CreateEndpoint(ctx, ep))
	must(t, db.AppendAttempt(ctx, d, a))
	must(t, db.PutDeadLetter(ctx, dl))

	done, err := db.Acquire(ctx, "done", 1, time.Minute)
	must(t, err)
	must(t, db.Finish(ctx, done))
	released, err := db.Acquire(ctx, "released", 1, time.Minute)
	must(t, err)
	must(t, db.Release(ctx, released))
	_, err = db.Acquire(ctx, "held", 2, time.Hour)
	must(t, err)

	must(t, db.SendMessages(ctx, "q", []webhook.OutMessage{
		{ID: "1", Body: []byte("one")}, {ID: "2", Body: []byte("two")}, {ID: "3", Body: []byte("three")},
		{ID: "4", Body: []byte("later"), Delay: 10 * time.Minute},
	}))
	ms, err := db.ReceiveMessages(ctx, "q", 2, time.Hour, 0)
	must(t, err)
	if len(ms) != 2 {
		t.Fatalf("received %d, want 2", len(ms))
	}
	must(t, db.DeleteMessage(ctx, "q", ms[0].Receipt))
	must(t, db.Close())

	db = openAt(t, path, Options{})
	gotEp, err := db.GetEndpoint(ctx, ep.ID)
	must(t, err)
	webhooktest.CheckEqual(t, "endpoint", gotEp, ep)
	gotD, err := db.GetDelivery(ctx, d.ID)
	must(t, err)
	wantD := *d
	wantD.Attempts = []webhook.Attempt{a}
	webhooktest.CheckEqual(t, "delivery", gotD, &wantD)
	gotDL, err := db.GetDeadLetter(ctx, dl.ID)
	must(t, err)
	webhooktest.CheckEqual(t, "dead letter", gotDL, dl)

	for _, tc := range []struct {
		key  string
		n    int
		want error
	}{
		{"done", 2, webhook.ErrDone},
		{"released", 1, webhook.ErrStale},
		{"held", 2, nil}, // leases live in memory: none outlives Close
	} {
		if _, err := db.Acquire(ctx, tc.key, tc.n, time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("after reopen, Acquire(%s, %d) = %v, want %v", tc.key, tc.n, err, tc.want)
		}
	}
	if _, err := db.Acquire(ctx, "held", 2, time.Minute); !errors.Is(err, webhook.ErrHeld) {
		t.Errorf("Acquire(held) again = %v, want ErrHeld", err)
	}
	must(t, db.ReleaseAllLeases(ctx))
	if _, err := db.Acquire(ctx, "held", 2, time.Minute); err != nil {
		t.Errorf("Acquire(held) after ReleaseAllLeases = %v", err)
	}
	if _, err := db.Acquire(ctx, "done", 2, time.Minute); !errors.Is(err, webhook.ErrDone) {
		t.Errorf("Acquire(done) after ReleaseAllLeases = %v, want ErrDone", err)
	}

	if names := db.QueueNames(); !slices.Equal(names, []string{"q"}) {
		t.Errorf("QueueNames = %q, want [q]", names)
	}
	if v, i, dl := db.QueueDepth("q"); v != 2 || i != 0 || dl != 1 {
		t.Errorf("QueueDepth = %d visible, %d in flight, %d delayed; want 2, 0, 1", v, i, dl)
	}
	again, err := db.ReceiveMessages(ctx, "q", 10, time.Minute, 0)
	must(t, err)
	var bodies []string
	for _, m := range again {
		bodies = append(bodies, string(m.Body))
		if m.ReceiveCount != 1 {
			t.Errorf("message %q: ReceiveCount %d after reopen, want 1", m.Body, m.ReceiveCount)
		}
		if m.ID == ms[1].ID && !m.SentAt.Equal(ms[1].SentAt) {
			t.Errorf("SentAt changed across reopen: %s, was %s", m.SentAt, ms[1].SentAt)
		}
	}
	slices.Sort(bodies)
	want := slices.DeleteFunc([]string{"one", "three", "two"}, func(b string) bool { return b == string(ms[0].Body) })
	if !slices.Equal(bodies, want) {
		t.Errorf("after reopen received %q, want %q (received-but-undeleted and never-received)", bodies, want)
	}
}

// TestCrashKeepsAcknowledgedWrites runs crashChild in a subprocess, kills
// it with SIGKILL while it writes, and checks that every write it had
// acknowledged (printed) survived.
// startCrashChild runs the test child of this test binary in a process of
// its own, with env set to the path of a new store, and returns the
// process, its standard output and the path. The parent kills it with
// SIGKILL and then checks the store.
func startCrashChild(t *testing.T, child, env string) (*exec.Cmd, io.Reader, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	return cmd, out, path
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	cmd, out, path := startCrashChild(t, "TestCrashChild", crashEnv)
	const killAfter = 400
	acked := map[string][]string{}
	n := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		kind, id, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(kind, "acked-") {
			continue
		}
		acked[kind] = append(acked[kind], id)
		if n++; n == killAfter {
			cmd.Process.Kill() // SIGKILL; keep reading what it printed before dying
		}
	}
	cmd.Wait()
	if n < killAfter {
		t.Fatalf("child acknowledged only %d writes before exiting", n)
	}
	t.Logf("child killed after %d acknowledged writes (%d sends)", n, len(acked["acked-send"]))

	ctx := t.Context()
	db := openAt(t, path, Options{})
	got := map[string]bool{}
	for {
		ms, err := db.ReceiveMessages(ctx, "crash", 100, time.Hour, 0)
		must(t, err)
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			got[string(m.Body)] = true
		}
	}
	for _, body := range acked["acked-send"] {
		if !got[body] {
			t.Errorf("acknowledged message %s lost", body)
		}
	}
	for _, id := range acked["acked-endpoint"] {
		if _, err := db.GetEndpoint(ctx, id); err != nil {
			t.Errorf("acknowledged endpoint lost: %v", err)
		}
	}
	for _, id := range acked["acked-deadletter"] {
		if _, err := db.GetDeadLetter(ctx, id); err != nil {
			t.Errorf("acknowledged dead letter lost: %v", err)
		}
	}
	for _, key := range acked["acked-key"] {
		if _, err := db.Acquire(ctx, key, 1, time.Minute); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("acknowledged finished key %s: Acquire = %v, want ErrDone", key, err)
		}
	}
	for _, id := range acked["acked-delivery"] {
		if _, err := db.GetDelivery(ctx, id); err != nil {
			t.Errorf("acknowledged delivery log lost: %v", err)
		}
	}
	deleted := map[string]bool{}
	for _, body := range acked["acked-delete"] {
		deleted[body] = true
	}
	for g := range 8 {
		ms, err := db.ReceiveMessages(ctx, fmt.Sprint("crash-del-", g), 10, time.Hour, 0)
		must(t, err)
		for _, m := range ms {
			if deleted[string(m.Body)] {
				t.Errorf("acknowledged delete of %s lost: received again", m.Body)
			}
		}
	}
	t.Logf("%d deletes, %d delivery logs, %d finished keys acknowledged", len(deleted), len(acked["acked-delivery"]), len(acked["acked-key"]))
}

const crashEnv = "BOLT_CRASH_CHILD_DB"

// TestCrashChild is the subprocess of TestCrashKeepsAcknowledgedWrites: it
// writes from 8 goroutines and prints each write once it is acknowledged,
// until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process of TestCrashKeepsAcknowledgedWrites")
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ack := func(kind, id string) {
		mu.Lock()
		fmt.Printf("acked-%s %s\n", kind, id)
		mu.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := time.Now().Add(20 * time.Second) // in case no one kills us
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				if err := db.SendMessages(ctx, "crash", []webhook.OutMessage{{ID: "0", Body: []byte(id)}}); err != nil {
					t.Error(err)
					return
				}
				ack("send", id)
				var err error
				switch i % 4 {
				case 1:
					err = db.CreateEndpoint(ctx, webhooktest.NewEndpoint("whk_"+id))
					if err == nil {
						ack("endpoint", "whk_"+id)
					}
				case 2:
					err = db.PutDeadLetter(ctx, webhooktest.NewDeadLetter("dlv_"+id, "whk_x", time.Now()))
					if err == nil {
						ack("deadletter", "dlv_"+id)
					}
				case 3:
					var l webhook.Lease
					if l, err = db.Acquire(ctx, "key_"+id, 1, time.Minute); err == nil {
						if err = db.Finish(ctx, l); err == nil {
							ack("key", "key_"+id)
						}
					}
				case 0:
					// A message of this goroutine's own queue, received
					// and deleted; and a delivery log record.
					q := fmt.Sprint("crash-del-", g)
					err = db.SendMessages(ctx, q, []webhook.OutMessage{{ID: "0", Body: []byte(id)}})
					var ms []webhook.InMessage
					if err == nil {
						ms, err = db.ReceiveMessages(ctx, q, 1, time.Hour, 0)
					}
					if err == nil && len(ms) == 1 {
						if err = db.DeleteMessage(ctx, q, ms[0].Receipt); err == nil {
							ack("delete", string(ms[0].Body))
						}
					}
					if err == nil {
						d := webhooktest.NewDelivery("whk_crash", "evt_"+id, time.Now())
						if err = db.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, time.Now(), 200)); err == nil {
							ack("delivery", d.ID)
						}
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	db.Close()
}

func TestSweepRemovesExpired(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	db := open(t, Options{Now: clk.Now, SweepInterval: -1, SweepLimit: 3, KeyTTL: time.Hour})
	now := clk.Now()
	for i := range 5 {
		d := webhooktest.NewDelivery("whk_1", fmt.Sprint("evt_", i), now)
		d.ExpiresAt = now.Add(time.Minute)
		must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, now, 500)))
	}
	live := webhooktest.NewDelivery("whk_1", "evt_live", now)
	live.ExpiresAt = now.Add(time.Hour)
	must(t, db.AppendAttempt(ctx, live, webhooktest.NewAttempt(1, now, 200)))
	forever := webhooktest.NewDelivery("whk_1", "evt_forever", now)
	forever.ExpiresAt = time.Time{}
	must(t, db.AppendAttempt(ctx, forever, webhooktest.NewAttempt(1, now, 200)))
	for _, key := range []string{"k1", "k2"} {
		l, err := db.Acquire(ctx, key, 1, time.Minute)
		must(t, err)
		must(t, db.Finish(ctx, l))
	}
	if n := count(t, db, bucketDeliveryRecords); n != 7 {
		t.Fatalf("%d deliveries stored, want 7", n)
	}

	clk.Advance(2 * time.Minute)
	if ds, _, err := db.ListDeliveries(ctx, "whk_1", webhook.Page{}); err != nil || len(ds) != 2 {
		t.Errorf("before the sweep, listed %d deliveries (%v), want the 2 live ones", len(ds), err)
	}
	for _, want := range []int{3, 2, 0} { // SweepLimit 3
		if n, err := db.Sweep(ctx); err != nil || n != want {
			t.Errorf("Sweep = %d, %v; want %d", n, err, want)
		}
	}
	checkCounts(t, db, map[string]int{
		"ids/d": 2, "delivery_records": 2, "deliveries_by_endpoint": 2, "deliveries_expiry": 1,
		"ids/k": 2, "idempotency_expiry": 2,
	})

	clk.Advance(time.Hour) // keys expire (KeyTTL), and so does live
	if l, err := db.Acquire(ctx, "k1", 2, time.Minute); err != nil {
		t.Errorf("Acquire(expired done key) = %v, want a fresh key", err)
	} else {
		must(t, db.Release(ctx, l)) // stores k1 afresh (an Acquire writes nothing)
	}
	if n, err := db.Sweep(ctx); err != nil || n != 2 { // live and k2; k1 lives again
		t.Errorf("Sweep = %d, %v; want 2", n, err)
	}
	checkCounts(t, db, map[string]int{
		"ids/d": 1, "delivery_records": 1, "deliveries_by_endpoint": 1, "deliveries_expiry": 0,
		"ids/k": 1, "idempotency_expiry": 1,
	})
	if _, err := db.GetDelivery(ctx, forever.ID); err != nil {
		t.Errorf("a delivery without ExpiresAt: %v", err)
	}
}

func TestBackgroundSweep(t *testing.T) {
	clk := newClock()
	db := open(t, Options{Now: clk.Now, SweepInterval: 10 * time.Millisecond})
	d := webhooktest.NewDelivery("whk_1", "evt_1", clk.Now())
	d.ExpiresAt = clk.Now().Add(time.Minute)
	must(t, db.AppendAttempt(t.Context(), d, webhooktest.NewAttempt(1, clk.Now(), 500)))
	clk.Advance(2 * time.Minute)
	for deadline := time.Now().Add(2 * time.Second); count(t, db, bucketDeliveryRecords) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("background sweep did not remove the expired delivery within 2 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count counts the records in a bucket; "ids/k" and "ids/d" count the
// idempotency keys and the delivery ids in the bucket ids.
func count(t *testing.T, db *DB, bucket []byte) int {
	t.Helper()
	must(t, db.flush(t.Context())) // journaled writes into the B+tree
	var n int
	must(t, db.bolt.View(func(tx *bbolt.Tx) error {
		name, kind, ok := strings.Cut(string(bucket), "/")
		if !ok {
			n = tx.Bucket(bucket).Stats().KeyN
			return nil
		}
		return tx.Bucket([]byte(name)).ForEach(func(k, _ []byte) error {
			if k[len(k)-1] == kind[0] {
				n++
			}
			return nil
		})
	}))
	return n
}

func checkCounts(t *testing.T, db *DB, want map[string]int) {
	t.Helper()
	for bucket, n := range want {
		if got := count(t, db, []byte(bucket)); got != n {
			t.Errorf("bucket %s holds %d records, want %d", bucket, got, n)
		}
	}
}

// Concurrent writes share commits: queue sends share log groups (one
// write and fsync each), other writes share B+tree transactions.
func TestGroupCommit(t *testing.T) {
	db := open(t, Options{})
	const writers = 200
	must(t, db.SendMessages(t.Context(), "gc", []webhook.OutMessage{{ID: "0", Body: []byte("first")}}))
	g0, r0 := db.wal.groups.Load(), db.wal.records.Load()
	c0, w0 := db.commitStats()
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			msg := []webhook.OutMessage{{ID: "0", Body: fmt.Appendf(nil, "m%d", i)}}
			if err := db.SendMessages(t.Context(), "gc", msg); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := db.PutDeadLetter(t.Context(), webhooktest.NewDeadLetter(fmt.Sprint("dl", i), "whk_gc", time.Now())); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	groups, records := db.wal.groups.Load()-g0, db.wal.records.Load()-r0
	commits, writes := db.commitStats()
	commits, writes = commits-c0, writes-w0
	t.Logf("%d concurrent sends in %d log groups, %d other writes in %d commits", records, groups, writes, commits)
	if records != writers || groups > writers/4 {
		t.Errorf("%d sends in %d log groups; want %d sharing far fewer groups", records, groups, writers)
	}
	if writes != writers || commits > writers/4 {
		t.Errorf("%d writes in %d commits; want %d writes sharing far fewer commits", writes, commits, writers)
	}
	if v, _, _ := db.QueueDepth("gc"); v != writers+1 {
		t.Errorf("%d messages visible, want %d", v, writers+1)
	}
}

// A write that fails does not fail the writes it was batched with.
func TestFailedWriteFailsAlone(t *testing.T) {
	db := open(t, Options{})
	boom := errors.New("boom")
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 50 {
		wg.Go(func() {
			err := db.update(t.Context(), func(tx *bbolt.Tx) error {
				if i%10 == 0 {
					return boom
				}
				return tx.Bucket(bucketEndpoints).Put(fmt.Appendf(nil, "k%d", i), []byte("{}"))
			})
			switch {
			case i%10 == 0 && !errors.Is(err, boom):
				t.Errorf("failing write %d: %v, want boom", i, err)
			case i%10 != 0 && err != nil:
				t.Errorf("write %d: %v", i, err)
			case err == nil:
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if n := count(t, db, bucketEndpoints); n != 45 || ok.Load() != 45 {
		t.Errorf("%d writes stored, %d succeeded; want 45", n, ok.Load())
	}
}

func TestQueueDepth(t *testing.T) {
	ctx := t.Context()
	db := open(t, Options{})
	must(t, db.SendMessages(ctx, "depth", []webhook.OutMessage{
		{ID: "a", Body: []byte("a")}, {ID: "b", Body: []byte("b")}, {ID: "c", Body: []byte("c"), Delay: time.Minute},
	}))
	if _, err := db.ReceiveMessages(ctx, "depth", 1, time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	if v, i, d := db.QueueDepth("depth"); v != 1 || i != 1 || d != 1 {
		t.Errorf("QueueDepth = %d, %d, %d; want 1 visible, 1 in flight, 1 delayed", v, i, d)
	}
	if v, i, d := db.QueueDepth("nothing"); v+i+d != 0 {
		t.Errorf("QueueDepth(unknown) = %d, %d, %d", v, i, d)
	}
	if _, err := db.ReceiveMessages(ctx, "other", 1, time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	if names := db.QueueNames(); !slices.Equal(names, []string{"depth"}) {
		t.Errorf("QueueNames = %q, want [depth] (receiving does not create a queue)", names)
	}
}

// SendEach sends a message to each of several queues with one log append;
// bad input is an error naming the field, with nothing sent.
func TestSendEach(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db := openAt(t, path, Options{})
	for _, tt := range []struct {
		name   string
		queues []string
		bodies [][]byte
		want   string
	}{
		{"lengths differ", []string{"qa", "qb"}, [][]byte{[]byte("x")}, "bodies"},
		{"bad queue name", []string{"qa", "no spaces"}, [][]byte{[]byte("x"), []byte("y")}, "queues[1]"},
		{"empty body", []string{"qa", "qb"}, [][]byte{[]byte("x"), nil}, "to queue qb: bodies[1]: required"},
	} {
		err := db.SendEach(ctx, tt.queues, tt.bodies)
		if webhook.KindOf(err) != webhook.KindInvalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: SendEach = %v, want an invalid-input error containing %q", tt.name, err, tt.want)
		}
	}
	if v, _, _ := db.QueueDepth("qa"); v != 0 {
		t.Errorf("after refused sends, queue qa holds %d messages, want 0", v)
	}

	groups := db.Stats().LogGroups
	must(t, db.SendEach(ctx, []string{"qa", "qb", "qa"}, [][]byte{[]byte("a1"), []byte("b1"), []byte("a2")}))
	if got := db.Stats().LogGroups - groups; got != 1 {
		t.Errorf("SendEach to 3 queues wrote %d log groups, want 1", got)
	}
	must(t, db.Close())
	db = openAt(t, path, Options{})
	if got := db.QueueNames(); !slices.Equal(got, []string{"qa", "qb"}) {
		t.Errorf("after a restart QueueNames = %q, want [qa qb]", got)
	}
	for q, want := range map[string][]string{"qa": {"a1", "a2"}, "qb": {"b1"}} {
		in, err := db.ReceiveMessages(ctx, q, 10, time.Minute, 0)
		must(t, err)
		var got []string
		for _, m := range in {
			got = append(got, string(m.Body))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("queue %s holds %q, want %q", q, got, want)
		}
	}
}

// DeleteMessages deletes a batch with one log append: a repeated receipt
// is a no-op, an invalid one fails the call with nothing deleted, and the
// deletes outlast a restart.
func TestDeleteMessages(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db := openAt(t, path, Options{})
	var out []webhook.OutMessage
	for i := range 5 {
		out = append(out, webhook.OutMessage{ID: strconv.Itoa(i), Body: []byte("m" + strconv.Itoa(i))})
	}
	must(t, db.SendMessages(ctx, "batch", out))
	in, err := db.ReceiveMessages(ctx, "batch", 5, time.Minute, 0)
	must(t, err)
	if len(in) != 5 {
		t.Fatalf("received %d messages, want 5", len(in))
	}
	receipt := map[string]string{}
	for _, m := range in {
		receipt[string(m.Body)] = m.Receipt
	}

	err = db.DeleteMessages(ctx, "batch", []string{receipt["m0"], "not-a-receipt"})
	if webhook.KindOf(err) != webhook.KindInvalid || !strings.Contains(err.Error(), "receipt") {
		t.Errorf("DeleteMessages with an invalid receipt = %v, want an invalid-receipt error", err)
	}
	if v, i, d := db.QueueDepth("batch"); v != 0 || i != 5 || d != 0 {
		t.Errorf("after a failed DeleteMessages, QueueDepth = %d, %d, %d; want 5 in flight", v, i, d)
	}

	groups := db.Stats().LogGroups
	must(t, db.DeleteMessages(ctx, "batch", []string{receipt["m0"], receipt["m1"], receipt["m2"], receipt["m1"]}))
	if got := db.Stats().LogGroups - groups; got != 1 {
		t.Errorf("DeleteMessages of 3 messages wrote %d log groups, want 1", got)
	}
	if v, i, d := db.QueueDepth("batch"); v != 0 || i != 2 || d != 0 {
		t.Errorf("after DeleteMessages, QueueDepth = %d, %d, %d; want 2 in flight", v, i, d)
	}
	must(t, db.DeleteMessages(ctx, "batch", nil))

	must(t, db.Close())
	db = openAt(t, path, Options{})
	in, err = db.ReceiveMessages(ctx, "batch", 10, time.Minute, 0)
	must(t, err)
	var left []string
	for _, m := range in {
		left = append(left, string(m.Body))
	}
	slices.Sort(left)
	if want := []string{"m3", "m4"}; !slices.Equal(left, want) {
		t.Errorf("after a restart the queue holds %q, want %q", left, want)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := t.Context()
	db := open(t, Options{})
	body := []byte("x")
	tests := []struct {
		name string
		err  error
	}{
		{"queue name", db.SendMessages(ctx, "bad name!", []webhook.OutMessage{{ID: "0", Body: body}})},
		{"duplicate message id", db.SendMessages(ctx, "q", []webhook.OutMessage{{ID: "0", Body: body}, {ID: "0", Body: body}})},
		{"empty body", db.SendMessages(ctx, "q", []webhook.OutMessage{{ID: "0"}})},
		{"delay", db.SendMessages(ctx, "q", []webhook.OutMessage{{ID: "0", Body: body, Delay: webhook.MaxQueueDelay + 1}})},
		{"max", func() error { _, err := db.ReceiveMessages(ctx, "q", 0, time.Second, 0); return err }()},
		{"receipt", db.DeleteMessage(ctx, "q", "garbage")},
		{"visibility", db.ChangeVisibility(ctx, "q", "1.ab", -time.Second)},
		{"endpoint id", db.CreateEndpoint(ctx, &webhook.Endpoint{})},
		{"delivery endpoint", db.AppendAttempt(ctx, &webhook.Delivery{ID: "dlv_1"}, webhook.Attempt{N: 1})},
		{"lease", func() error { _, err := db.Acquire(ctx, "k", 1, 0); return err }()},
	}
	for _, tc := range tests {
		if webhook.KindOf(tc.err) != webhook.KindInvalid {
			t.Errorf("%s: %v, want a KindInvalid error", tc.name, tc.err)
		}
	}
	if v, i, d := db.QueueDepth("q"); v+i+d != 0 {
		t.Errorf("rejected sends left %d messages", v+i+d)
	}
}

func TestCloseWakesReceivers(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "webhooks.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.ReceiveMessages(context.Background(), "q", 1, time.Minute, 20*time.Second)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	must(t, db.Close())
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("blocked receive returned %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake a blocked receive")
	}
	t.Logf("receiver woke %s after Close", time.Since(start))
	if err := db.SendMessages(t.Context(), "q", []webhook.OutMessage{{ID: "0", Body: []byte("x")}}); !errors.Is(err, ErrClosed) {
		t.Errorf("send after Close = %v, want ErrClosed", err)
	}
	if _, err := db.GetEndpoint(t.Context(), "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("get after Close = %v, want ErrClosed", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.db")
	openAt(t, path, Options{})
	if db, err := Open(path, Options{LockTimeout: 100 * time.Millisecond}); err == nil {
		db.Close()
		t.Fatal("second Open of a file in use succeeded")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Message ids are version 4 UUIDs, and tokens hex digits; both unique.
func TestIDsAndTokens(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newUUID()
		if !uuid.MatchString(id) {
			t.Fatalf("newUUID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newUUID() gave %q twice", id)
		}
		seen[id] = true
	}
	for _, n := range []int{4, 8, 16} {
		seen := map[string]bool{}
		for range 1000 {
			tok := token(n)
			if len(tok) != 2*n || strings.Trim(tok, "0123456789abcdef") != "" {
				t.Fatalf("token(%d) = %q, want %d hex digits", n, tok, 2*n)
			}
			if seen[tok] && n >= 8 { // 4 bytes may repeat in 1000 draws
				t.Fatalf("token(%d) gave %q twice", n, tok)
			}
			seen[tok] = true
		}
	}
}
