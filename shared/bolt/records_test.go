package bolt

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// keptNames lists the log segments kept for their delivery records.
func keptNames(t *testing.T, db *DB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(db.records.dir, "*.log"))
	must(t, err)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// logSegments lists the segments in the log.
func logSegments(t *testing.T, path string) []string {
	t.Helper()
	names := segments(t, path)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// checkRefs checks that every delivery record is a reference, that
// delivery_segments counts them right, and that every segment referred to is
// in the log or kept; it returns the segments referred to.
func checkRefs(t *testing.T, db *DB) []string {
	t.Helper()
	must(t, db.flush(t.Context()))
	refs, counted := map[uint64]int64{}, map[uint64]int64{}
	must(t, db.bolt.View(func(tx *bbolt.Tx) error {
		must(t, tx.Bucket(bucketDeliveryRecords).ForEach(func(k, v []byte) error {
			if !isRef(v) {
				t.Errorf("record %x is kept in the B+tree (%.20q), want a reference", k, v)
				return nil
			}
			refs[refSegment(v)]++
			return nil
		}))
		return tx.Bucket(bucketDeliverySegments).ForEach(func(k, v []byte) error {
			counted[binary.BigEndian.Uint64(k)] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
	}))
	var segs []string
	inLog, kept := logSegments(t, db.Path()), keptNames(t, db)
	for id, c := range refs {
		if counted[id] != c {
			t.Errorf("segment %d: %d references, delivery_segments counts %d", id, c, counted[id])
		}
		name := segmentName(id)
		if !slices.Contains(inLog, name) && !slices.Contains(kept, name) {
			t.Errorf("segment %s is referred to but neither in the log nor kept", name)
		}
		segs = append(segs, name)
	}
	for id, c := range counted {
		if refs[id] == 0 {
			t.Errorf("segment %d: no reference, delivery_segments counts %d", id, c)
		}
	}
	slices.Sort(segs)
	return segs
}

func TestRecordsStayInLog(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	// Every log group starts a new segment.
	opts := Options{Now: clk.Now, SweepInterval: -1, LogSegmentSize: 1}
	db := openAt(t, path, opts)
	now := clk.Now()
	soon := map[string]*webhook.Delivery{}
	for _, ev := range []string{"evt_a", "evt_b", "evt_c"} {
		d := webhooktest.NewDelivery("whk_1", ev, now)
		d.ExpiresAt = now.Add(time.Minute)
		must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, now, 500)))
		soon[ev] = d
	}
	later := webhooktest.NewDelivery("whk_1", "evt_later", now)
	later.ExpiresAt = now.Add(time.Hour)
	must(t, db.AppendAttempt(ctx, later, webhooktest.NewAttempt(1, now, 200)))
	referred := checkRefs(t, db)
	if len(referred) != 4 {
		t.Fatalf("4 deliveries appended one by one are in %d segments, want 4", len(referred))
	}

	// Retired from the log, the segments referred to are kept, the
	// others removed.
	must(t, db.tidyLog())
	inLog := logSegments(t, path)
	if len(inLog) != 1 {
		t.Fatalf("after tidyLog the log has segments %v, want only the head", inLog)
	}
	var wantKept []string
	for _, s := range referred {
		if !slices.Contains(inLog, s) {
			wantKept = append(wantKept, s)
		}
	}
	if got := keptNames(t, db); !slices.Equal(got, wantKept) {
		t.Errorf("kept segments %v, want %v", got, wantKept)
	}
	for ev, d := range soon {
		if got, err := db.GetDelivery(ctx, d.ID); err != nil || len(got.Attempts) != 1 || got.EventID != ev {
			t.Errorf("GetDelivery(%s) from a kept segment = %+v, %v", ev, got, err)
		}
	}

	// A later attempt is a new log record: the first one's segment is
	// referred to no more, and goes at the sweep.
	a := soon["evt_a"]
	must(t, db.AppendAttempt(ctx, a, webhooktest.NewAttempt(2, now, 200)))
	referred = checkRefs(t, db)
	must(t, db.tidyLog())
	if n, err := db.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want 0 (nothing expired)", n, err)
	}
	for _, s := range keptNames(t, db) {
		if !slices.Contains(referred, s) {
			t.Errorf("segment %s is kept but referred to no more", s)
		}
	}
	if got, err := db.GetDelivery(ctx, a.ID); err != nil || len(got.Attempts) != 2 {
		t.Fatalf("GetDelivery after a second attempt = %+v, %v; want 2 attempts", got, err)
	}

	// Expiry empties the other kept segments.
	clk.Advance(2 * time.Minute)
	if n, err := db.Sweep(ctx); err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3", n, err)
	}
	left := checkRefs(t, db)
	if got := keptNames(t, db); len(left) != 1 || !slices.Equal(got, left) {
		t.Errorf("after the sweep, kept segments %v; want the live delivery's, %v", got, left)
	}

	// Reopened, the live delivery reads from its kept segment (not
	// replayed: it is not in the log).
	must(t, db.Close())
	db = openAt(t, path, opts)
	if db.journal.delivery(later.ID) != nil {
		t.Fatal("the delivery was replayed from the log; want it read from its kept segment")
	}
	got, err := db.GetDelivery(ctx, later.ID)
	if err != nil || got.Request.Body != later.Request.Body || len(got.Attempts) != 1 {
		t.Fatalf("GetDelivery after reopening = %+v, %v", got, err)
	}
	ds, _, err := db.ListDeliveries(ctx, "whk_1", webhook.Page{})
	if err != nil || len(ds) != 1 || ds[0].ID != later.ID {
		t.Errorf("ListDeliveries after reopening = %d deliveries, %v; want the live one", len(ds), err)
	}
	checkRefs(t, db)

	// A damaged record is an error naming its segment, not a wrong record.
	must(t, db.Close())
	f, err := os.OpenFile(filepath.Join(path+".records", left[0]), os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("#"), walHeader+2)
	must(t, err)
	must(t, f.Close())
	db = openAt(t, path, opts)
	if _, err := db.GetDelivery(ctx, later.ID); err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "log segment") {
		t.Errorf("GetDelivery of a damaged record = %v, want a checksum error naming the segment", err)
	}
}

// A kept segment the background sweep cannot remove is reported by Stats
// and removed at a later sweep, once it can be.
func TestSweepTroubleReported(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db := openAt(t, path, Options{Now: clk.Now, SweepInterval: 5 * time.Millisecond, LogSegmentSize: 1})
	now := clk.Now()
	d := webhooktest.NewDelivery("whk_1", "evt_a", now)
	d.ExpiresAt = now.Add(time.Minute)
	must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, now, 200)))
	// A later write moves the log's head on, so d's segment can retire.
	must(t, db.AppendAttempt(ctx, webhooktest.NewDelivery("whk_1", "evt_b", now), webhooktest.NewAttempt(1, now, 200)))
	must(t, db.flush(ctx))
	must(t, db.tidyLog())
	kept := keptNames(t, db)
	if len(kept) != 1 {
		t.Fatalf("kept segments %v, want 1", kept)
	}
	// Where the kept segment was, a directory that is not empty: removing
	// it fails, even as root.
	seg := filepath.Join(db.records.dir, kept[0])
	must(t, os.Remove(seg))
	must(t, os.Mkdir(seg, 0o700))
	must(t, os.WriteFile(filepath.Join(seg, "x"), nil, 0o600))

	// waitFor waits (5 s at most) until ok() holds.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after 5 s: %s (Stats().Trouble = %q)", what, db.Stats().Trouble)
			}
		}
	}
	clk.Advance(2 * time.Minute)
	waitFor("no trouble reported", func() bool { return db.Stats().Trouble != "" })
	if got, want := db.Stats().Trouble, "remove kept log segment"; !strings.Contains(got, want) || !strings.Contains(got, "sweep") {
		t.Errorf("Stats().Trouble = %q, want a sweep error containing %q", got, want)
	}
	if got, err := db.GetDelivery(ctx, d.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("GetDelivery of the expired delivery = %v, %v; want ErrNotFound", got, err)
	}

	// Once the directory is empty, a later sweep removes it in the
	// segment's place, and the trouble is over.
	must(t, os.Remove(filepath.Join(seg, "x")))
	waitFor("the kept segment is still there", func() bool {
		_, err := os.Stat(seg)
		return errors.Is(err, os.ErrNotExist) && db.Stats().Trouble == ""
	})
	id, err := strconv.ParseUint(strings.TrimSuffix(kept[0], ".log"), 10, 64)
	must(t, err)
	db.records.mu.Lock()
	_, open := db.records.kept[id]
	db.records.mu.Unlock()
	if open {
		t.Errorf("segment %s is still held open after the sweep that removed it", kept[0])
	}
}

// Records kept in the B+tree by earlier versions read as before, and move
// to the log (a reference) when written again.
func TestRecordKeptInTree(t *testing.T) {
	ctx := t.Context()
	db := open(t, Options{SweepInterval: -1})
	now := time.Now()
	d := webhooktest.NewDelivery("whk_1", "evt_old", now)
	d.Attempts = []webhook.Attempt{webhooktest.NewAttempt(1, now, 500)}
	v, err := encodeDelivery(nil, d)
	must(t, err)
	must(t, db.update(ctx, func(tx *bbolt.Tx) error { return putDelivery(tx, d, nil, v) }))
	db.ids.add(deliveryID(d.ID))

	got, err := db.GetDelivery(ctx, d.ID)
	if err != nil || len(got.Attempts) != 1 || got.Request.Body != d.Request.Body {
		t.Fatalf("GetDelivery of a record in the B+tree = %+v, %v", got, err)
	}
	if ds, _, err := db.ListDeliveries(ctx, "whk_1", webhook.Page{}); err != nil || len(ds) != 1 {
		t.Fatalf("ListDeliveries = %d, %v; want 1", len(ds), err)
	}
	must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(2, now, 200)))
	if segs := checkRefs(t, db); len(segs) != 1 {
		t.Errorf("after a second attempt, the record is in %d segments, want 1", len(segs))
	}
	if got, err := db.GetDelivery(ctx, d.ID); err != nil || len(got.Attempts) != 2 {
		t.Errorf("GetDelivery after a second attempt = %+v, %v; want 2 attempts", got, err)
	}
}

const keptCrashEnv = "BOLT_KEPT_CRASH_CHILD_DB"

// Delivery records in retired (kept) segments survive a kill -9, with
// their references and counts consistent: a child process appends
// attempts with tiny log segments until segments have been kept, and is
// killed; every acknowledged attempt must then read back.
func TestCrashKeepsKeptRecords(t *testing.T) {
	if os.Getenv(keptCrashEnv) != "" {
		t.Skip("in the child")
	}
	cmd, out, path := startCrashChild(t, "TestKeptCrashChild", keptCrashEnv)
	acked := map[string]int{} // delivery id → attempts acknowledged
	kept := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "acked":
			n, _ := strconv.Atoi(f[2])
			acked[f[1]] = max(acked[f[1]], n)
		case len(f) == 1 && f[0] == "kept":
			kept = true
		}
		if kept && len(acked) >= 300 {
			cmd.Process.Kill() // SIGKILL; keep reading what it printed before dying
		}
	}
	cmd.Wait()
	if !kept || len(acked) < 300 {
		t.Fatalf("child exited with %d deliveries acknowledged, kept segments: %v", len(acked), kept)
	}

	ctx := t.Context()
	db := openAt(t, path, Options{LogSegmentSize: 8 << 10, SweepInterval: -1})
	for id, n := range acked {
		d, err := db.GetDelivery(ctx, id)
		if err != nil {
			t.Errorf("acknowledged delivery %s: %v", id, err)
			continue
		}
		if len(d.Attempts) < n {
			t.Errorf("delivery %s: %d attempts, %d acknowledged", id, len(d.Attempts), n)
		}
	}
	checkRefs(t, db)
	if len(keptNames(t, db)) == 0 {
		t.Error("no kept segment after reopening")
	}
	t.Logf("%d deliveries acknowledged, %d segments kept", len(acked), len(keptNames(t, db)))
}

// TestKeptCrashChild is the subprocess of TestCrashKeepsKeptRecords.
func TestKeptCrashChild(t *testing.T) {
	path := os.Getenv(keptCrashEnv)
	if path == "" {
		t.Skip("helper process of TestCrashKeepsKeptRecords")
	}
	db, err := Open(path, Options{LogSegmentSize: 8 << 10, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Printf(format+"\n", args...)
		mu.Unlock()
	}
	go func() {
		for range time.Tick(50 * time.Millisecond) {
			db.records.mu.Lock()
			n := len(db.records.kept)
			db.records.mu.Unlock()
			if n > 0 {
				say("kept")
			}
		}
	}()
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := time.Now().Add(20 * time.Second) // in case no one kills us
	for g := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				now := time.Now()
				d := webhooktest.NewDelivery("whk_crash", fmt.Sprintf("evt_%d_%d", g, i), now)
				d.ExpiresAt = now.Add(time.Hour)
				for n := 1; n <= 1+i%2; n++ { // every other delivery gets a second attempt
					if err := db.AppendAttempt(ctx, d, webhooktest.NewAttempt(n, now, 500)); err != nil {
						t.Error(err)
						return
					}
					say("acked %s %d", d.ID, n)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	db.Close()
}
