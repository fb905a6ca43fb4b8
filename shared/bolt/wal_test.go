package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

func send(t *testing.T, db *DB, queue string, delay time.Duration, bodies ...string) {
	t.Helper()
	msgs := make([]webhook.OutMessage, len(bodies))
	for i, b := range bodies {
		msgs[i] = webhook.OutMessage{ID: fmt.Sprint(i), Body: []byte(b), Delay: delay}
	}
	must(t, db.SendMessages(t.Context(), queue, msgs))
}

// receiveAll receives every visible message of queue (deleting them if
// del) and returns their bodies, sorted.
func receiveAll(t *testing.T, db *DB, queue string, del bool) []string {
	t.Helper()
	var got []string
	for {
		ms, err := db.ReceiveMessages(t.Context(), queue, 10, time.Hour, 0)
		must(t, err)
		if len(ms) == 0 {
			slices.Sort(got)
			return got
		}
		for _, m := range ms {
			got = append(got, string(m.Body))
			if del {
				must(t, db.DeleteMessage(t.Context(), queue, m.Receipt))
			}
		}
	}
}

func segments(t *testing.T, path string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(path+".wal", "*.log"))
	must(t, err)
	return names
}

// A record cut short at the end of the log (a write the crash
// interrupted, so never acknowledged) is dropped at Open; what came before
// is kept, and the log goes on from there.
func TestLogTornTail(t *testing.T) {
	for _, cut := range []int{1, 7, 9, 30} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "webhooks.db")
			db, err := Open(path, Options{})
			must(t, err)
			send(t, db, "q", 0, "one", "two")
			send(t, db, "q", 0, "three-is-a-longer-body-than-the-cut")
			must(t, db.Close())

			seg := segments(t, path)
			last := seg[len(seg)-1]
			st, err := os.Stat(last)
			must(t, err)
			must(t, os.Truncate(last, st.Size()-int64(cut)))

			db = openAt(t, path, Options{})
			if got, want := receiveAll(t, db, "q", false), []string{"one", "two"}; !slices.Equal(got, want) {
				t.Fatalf("after a torn tail: %q, want %q", got, want)
			}
			send(t, db, "q", 0, "four")
			must(t, db.Close())
			db = openAt(t, path, Options{})
			if got, want := receiveAll(t, db, "q", false), []string{"four", "one", "two"}; !slices.Equal(got, want) {
				t.Errorf("after reopening: %q, want %q", got, want)
			}
		})
	}
}

// A torn tail followed by a segment created but never written to (a crash
// as a group crossed into a new segment) is a torn tail too.
func TestLogTornTailBeforeEmptySegment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db, err := Open(path, Options{})
	must(t, err)
	send(t, db, "q", 0, "one", "two")
	send(t, db, "q", 0, "three-is-longer")
	must(t, db.Close())
	seg := segments(t, path)
	last := seg[len(seg)-1]
	st, err := os.Stat(last)
	must(t, err)
	must(t, os.Truncate(last, st.Size()-5))
	next := filepath.Join(filepath.Dir(last), segmentName(uint64(len(seg)+1)))
	must(t, os.WriteFile(next, nil, 0o600))

	db = openAt(t, path, Options{})
	if got, want := receiveAll(t, db, "q", false), []string{"one", "two"}; !slices.Equal(got, want) {
		t.Fatalf("after a torn tail: %q, want %q", got, want)
	}
	if _, err := os.Stat(next); err == nil {
		t.Error("the empty segment after the torn tail is still there")
	}
}

// A bad record anywhere but at the end of the last segment is corruption:
// Open refuses the file rather than dropping what follows.
func TestLogCorruptSegment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db, err := Open(path, Options{LogSegmentSize: 4096})
	must(t, err)
	for i := range 20 {
		send(t, db, "q", 0, strings.Repeat(fmt.Sprint(i), 500))
	}
	must(t, db.Close())
	seg := segments(t, path)
	if len(seg) < 2 {
		t.Fatalf("%d segments, want several", len(seg))
	}
	f, err := os.OpenFile(seg[0], os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("X"), 100)
	must(t, err)
	f.Close()
	_, err = Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Base(seg[0])) {
		t.Fatalf("Open of a corrupt segment = %v, want an error naming %s", err, filepath.Base(seg[0]))
	}
}

// Segments whose messages were all deleted are retired, oldest first; a
// few long-delayed messages in an old segment are moved forward rather
// than pin it, and keep their delay, across a restart too.
func TestLogRetiresSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db := openAt(t, path, Options{LogSegmentSize: 8 << 10})
	send(t, db, "later", 10*time.Minute, "delayed")
	var want []string
	for i := range 200 {
		body := fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 300))
		send(t, db, "q", 0, body)
		if i%50 == 0 {
			want = append(want, body)
		}
	}
	before := len(segments(t, path))
	if got := receiveAll(t, db, "q", false); len(got) != 200 {
		t.Fatalf("received %d, want 200", len(got))
	}
	// After a restart (so every message is visible again), delete all but
	// a few, which stay in their segments.
	must(t, db.Close())
	db = openAt(t, path, Options{LogSegmentSize: 8 << 10})
	for {
		ms, err := db.ReceiveMessages(t.Context(), "q", 10, time.Hour, 0)
		must(t, err)
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if !slices.Contains(want, string(m.Body)) {
				must(t, db.DeleteMessage(t.Context(), "q", m.Receipt))
			}
		}
	}
	for range 3 {
		must(t, db.tidyLog())
	}
	after := len(segments(t, path))
	t.Logf("%d segments before, %d after tidying", before, after)
	if after > 2 {
		t.Errorf("%d segments left of %d, want at most 2", after, before)
	}
	must(t, db.Close())

	db = openAt(t, path, Options{LogSegmentSize: 8 << 10})
	if v, _, d := db.QueueDepth("later"); v != 0 || d != 1 {
		t.Errorf("the delayed message: %d visible, %d delayed; want 0 and 1", v, d)
	}
	if v, _, _ := db.QueueDepth("q"); v != len(want) {
		t.Errorf("%d messages kept, want %d", v, len(want))
	}
	if got := receiveAll(t, db, "q", true); !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
}

// Journaled writes (key outcomes, delivery records) live in the log and
// in memory until the committer applies them; after a crash in between
// the log alone brings them back.
func TestJournalReplay(t *testing.T) {
	old := journalInterval
	journalInterval = time.Hour // nothing applied unless flushed
	t.Cleanup(func() { journalInterval = old })
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "webhooks.db")
	db := openAt(t, path, Options{})
	now := time.Now()
	d := webhooktest.NewDelivery("whk_1", "evt_1", now)
	must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, now, 500)))
	must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(2, now, 200)))
	l, err := db.Acquire(ctx, "key-done", 1, time.Minute)
	must(t, err)
	must(t, db.Finish(ctx, l))
	l, err = db.Acquire(ctx, "key-released", 3, time.Minute)
	must(t, err)
	must(t, db.Release(ctx, l))

	// A crash: copy the files as they are now, the journal not applied.
	crashed := filepath.Join(t.TempDir(), "webhooks.db")
	must(t, copyStore(path, crashed))
	raw, err := bbolt.Open(crashed, 0o600, &bbolt.Options{ReadOnly: true})
	must(t, err)
	must(t, raw.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bucketDeliveryRecords).Stats().KeyN + tx.Bucket(bucketIDs).Stats().KeyN; n != 0 {
			t.Fatalf("%d records in the B+tree before the crash, want them in the log only", n)
		}
		return nil
	}))
	must(t, raw.Close())
	db3 := openAt(t, crashed, Options{})
	got, err := db3.GetDelivery(ctx, d.ID)
	must(t, err)
	if len(got.Attempts) != 2 || got.Status != d.Status {
		t.Errorf("replayed delivery: %d attempts, status %s; want 2, %s", len(got.Attempts), got.Status, d.Status)
	}
	if _, err := db3.Acquire(ctx, "key-done", 2, time.Minute); !errors.Is(err, webhook.ErrDone) {
		t.Errorf("Acquire of a finished key after replay = %v, want ErrDone", err)
	}
	if _, err := db3.Acquire(ctx, "key-released", 3, time.Minute); !errors.Is(err, webhook.ErrStale) {
		t.Errorf("Acquire of a released attempt after replay = %v, want ErrStale", err)
	}
	ds, _, err := db3.ListDeliveries(ctx, "whk_1", webhook.Page{})
	must(t, err)
	if len(ds) != 1 || len(ds[0].Attempts) != 2 {
		t.Errorf("listed %d deliveries after replay, want 1 with 2 attempts", len(ds))
	}
}

// copyStore copies a store's file, log and kept segments (a crash image).
func copyStore(from, to string) error {
	if err := copyFile(from, to); err != nil {
		return err
	}
	for _, dir := range []string{".wal", ".records"} {
		names, err := filepath.Glob(filepath.Join(from+dir, "*"))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(to+dir, 0o700); err != nil {
			return err
		}
		for _, n := range names {
			if err := copyFile(n, filepath.Join(to+dir, filepath.Base(n))); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestLogFailsEveryGroupAfterAFailedOne: once a group's write fails, a
// group appended meanwhile (before the failure was known) fails too,
// unwritten, even if the disk would take it now: its records would follow
// the failed ones, where a replay finds a torn record first and drops
// them, so acknowledging them would lose acknowledged writes.
func TestLogFailsEveryGroupAfterAFailedOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	w, err := openWAL(dir, 1<<20, func(walPos, []byte) error { return nil })
	must(t, err)
	writing, resume := make(chan struct{}), make(chan struct{})
	calls := 0
	w.beforeWrite = func() error {
		calls++
		if calls > 1 {
			return nil // the disk is fine again
		}
		close(writing)
		<-resume
		return errors.New("injected I/O error")
	}
	_, g1, err := w.append([]byte("record A"))
	must(t, err)
	<-writing
	_, g2, err := w.append([]byte("record B")) // accepted: g1's fate is not known yet
	must(t, err)
	close(resume)
	if err := g1.wait(); err == nil {
		t.Fatal("the failed group was acknowledged")
	}
	if err := g2.wait(); err == nil {
		t.Error("the group appended during a failed one was acknowledged")
	}
	if _, _, err := w.append([]byte("record C")); err == nil {
		t.Error("an append after the failure was accepted")
	}
	w.close()

	var got []string
	w2, err := openWAL(dir, 1<<20, func(_ walPos, p []byte) error { got = append(got, string(p)); return nil })
	must(t, err)
	w2.close()
	if len(got) != 0 {
		t.Errorf("after reopening: %q, want nothing (nothing was acknowledged)", got)
	}
}

// TestLogAppendIsAllOrNothing: an append whose records need a new segment
// that can't be created fails whole: none of its records reaches the log
// (not even those that fitted in the current segment), and once the
// segment can be created, appends go on.
func TestLogAppendIsAllOrNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	w, err := openWAL(dir, 64, func(walPos, []byte) error { return nil })
	must(t, err)
	_, g, err := w.append([]byte("first"))
	must(t, err)
	must(t, g.wait())
	// Segment 2 can't be created (O_EXCL: it stands for ENOSPC, EMFILE...).
	blocker := filepath.Join(dir, segmentName(2))
	must(t, os.WriteFile(blocker, nil, 0o600))
	if _, _, err := w.append([]byte("fits in segment 1"), []byte(strings.Repeat("x", 40))); err == nil {
		t.Fatal("append needing an impossible segment succeeded")
	}
	must(t, os.Remove(blocker))
	_, g, err = w.append([]byte("after"), []byte(strings.Repeat("y", 40)))
	must(t, err)
	must(t, g.wait())
	w.close()

	var got []string
	w2, err := openWAL(dir, 64, func(_ walPos, p []byte) error { got = append(got, string(p)); return nil })
	must(t, err)
	w2.close()
	if want := []string{"first", "after", strings.Repeat("y", 40)}; !slices.Equal(got, want) {
		t.Errorf("after reopening: %q, want %q", got, want)
	}
}

// TestFailedSettleLeavesNothing: a Settle whose log append fails (a
// segment that can't be created) leaves neither the key done nor the
// delivery record, after a restart too: it used to leave the key's
// outcome, written first, so the retried message was dropped as done and
// its attempt never logged.
func TestFailedSettleLeavesNothing(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	opts := Options{LogSegmentSize: 256, SweepInterval: -1}
	db := openAt(t, path, opts)
	l, err := db.Acquire(ctx, "key_1", 1, time.Minute)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(path+".wal", segmentName(2)), nil, 0o600))
	d := webhooktest.NewDelivery("whk_1", "evt_1", time.Now())
	if err := db.Settle(ctx, l, true, d, webhooktest.NewAttempt(1, time.Now(), 200)); err == nil {
		t.Fatal("Settle succeeded; the test needs it to fail")
	}
	must(t, db.Close())

	db = openAt(t, path, opts)
	if _, err := db.Acquire(ctx, "key_1", 1, time.Minute); err != nil {
		t.Errorf("after a failed Settle and a restart, Acquire = %v, want the key free", err)
	}
	if _, err := db.GetDelivery(ctx, d.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("GetDelivery = %v, want not found", err)
	}
}

// TestFailedSendLeavesNothing: a send that fails (here: its context ends
// before the new queue is listed) leaves no message, after a restart too;
// the messages used to be in the log already, and came back.
func TestFailedSendLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhooks.db")
	opts := Options{SweepInterval: -1}
	db := openAt(t, path, opts)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.SendMessages(ctx, "q_new", []webhook.OutMessage{{ID: "0", Body: []byte("ghost")}}); err == nil {
		t.Fatal("send with an ended context succeeded; the test needs it to fail")
	}
	must(t, db.Close())
	db = openAt(t, path, opts)
	if got := receiveAll(t, db, "q_new", false); len(got) != 0 {
		t.Errorf("after a failed send and a restart the queue holds %q, want nothing", got)
	}
}

// TestLogKeepsAnAppendInOneSegment: records appended together that fit in
// one segment are not split between two (a crash between the two
// segments' writes would keep only the first part).
func TestLogKeepsAnAppendInOneSegment(t *testing.T) {
	w, err := openWAL(filepath.Join(t.TempDir(), "wal"), 64, func(walPos, []byte) error { return nil })
	must(t, err)
	defer w.close()
	_, g, err := w.append([]byte("first")) // 13 bytes of segment 1
	must(t, err)
	must(t, g.wait())
	pos, g, err := w.append([]byte(strings.Repeat("a", 20)), []byte(strings.Repeat("b", 20))) // 28 + 28
	must(t, err)
	must(t, g.wait())
	if pos[0].seg != pos[1].seg || pos[0].seg != 2 {
		t.Errorf("the two records went to segments %d and %d, want both in segment 2", pos[0].seg, pos[1].seg)
	}
}

// TestTornSettleLeavesTheKeyFree: a crash that keeps only a prefix of a
// Settle's append (its last record torn, as a power loss can leave it)
// keeps the delivery record and leaves the key free for the retry, which
// makes the attempt again; with the key's outcome first, the key was done
// without the record, and the retry was dropped with the attempt's log
// line.
func TestTornSettleLeavesTheKeyFree(t *testing.T) {
	old := journalInterval
	journalInterval = time.Hour // nothing applied: the log alone holds it
	t.Cleanup(func() { journalInterval = old })
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db := openAt(t, path, Options{SweepInterval: -1})
	l, err := db.Acquire(ctx, "key_1", 1, time.Minute)
	must(t, err)
	d := webhooktest.NewDelivery("whk_1", "evt_1", time.Now())
	must(t, db.Settle(ctx, l, true, d, webhooktest.NewAttempt(1, time.Now(), 200)))

	crashed := filepath.Join(t.TempDir(), "webhooks.db")
	must(t, copyStore(path, crashed))
	segs := segments(t, crashed)
	last := segs[len(segs)-1]
	info, err := os.Stat(last)
	must(t, err)
	must(t, os.Truncate(last, info.Size()-3)) // the append's last record, torn

	db2 := openAt(t, crashed, Options{SweepInterval: -1})
	if _, err := db2.Acquire(ctx, "key_1", 1, time.Minute); err != nil {
		t.Errorf("Acquire after a torn Settle = %v, want the key free (its outcome was the torn record)", err)
	}
	if _, err := db2.GetDelivery(ctx, d.ID); err != nil {
		t.Errorf("GetDelivery after a torn Settle = %v, want the record, written first", err)
	}
}
