package bolt

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Deletes leave tombstones; the purge removes the messages and tombstones
// in bulk, and a reopened store hands out only the undeleted messages,
// whether or not their neighbours were purged yet.
func TestPurgeRemovesAcknowledged(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	db, err := Open(path, Options{SweepInterval: -1})
	must(t, err)
	const sent, kept = 2*purgeEvery + 100, 100
	var msgs []webhook.OutMessage
	for i := range sent {
		msgs = append(msgs, webhook.OutMessage{ID: fmt.Sprint(i), Body: fmt.Appendf(nil, "m%d", i)})
		if len(msgs) == 10 || i == sent-1 {
			must(t, db.SendMessages(ctx, "purge", msgs))
			msgs = nil
		}
	}
	for deleted := 0; deleted < sent-kept; {
		ms, err := db.ReceiveMessages(ctx, "purge", min(10, sent-kept-deleted), time.Hour, 0)
		must(t, err)
		for _, m := range ms {
			must(t, db.DeleteMessage(ctx, "purge", m.Receipt))
			deleted++
		}
	}
	// Two purges ran (every purgeEvery deletes) or are running; a sweep
	// kicks another for the rest.
	if _, err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); count(t, db, bucketAcks) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d tombstones left 5 s after the sweep", count(t, db, bucketAcks))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(t, db, bucketMessages); n != kept {
		t.Errorf("%d messages stored after the purge, want %d", n, kept)
	}
	// Delete some more (tombstones only) and reopen.
	ms, err := db.ReceiveMessages(ctx, "purge", 10, time.Hour, 0)
	must(t, err)
	for _, m := range ms {
		must(t, db.DeleteMessage(ctx, "purge", m.Receipt))
	}
	must(t, db.Close())

	db = openAt(t, path, Options{SweepInterval: -1})
	if v, i, d := db.QueueDepth("purge"); v != kept-10 || i+d != 0 {
		t.Errorf("after reopen QueueDepth = %d, %d, %d; want %d visible", v, i, d, kept-10)
	}
	if n, m := count(t, db, bucketAcks), count(t, db, bucketMessages); n != 0 || m != kept-10 {
		t.Errorf("after reopen %d tombstones and %d messages stored, want 0 and %d", n, m, kept-10)
	}
}
