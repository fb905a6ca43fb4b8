package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// TestOpenMigratesLegacyFile writes a file in the layout of earlier
// versions (one file; a bucket per queue; JSON key records with leases;
// delivery records keyed by id) and checks that Open moves everything.
func TestOpenMigratesLegacyFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	now := time.Now()
	far := now.Add(time.Hour).UnixNano()
	d := webhooktest.NewDelivery("whk_legacy", "evt_1", now)
	d.Attempts = []webhook.Attempt{webhooktest.NewAttempt(1, now, 503), webhooktest.NewAttempt(2, now, 200)}

	bdb, err := bbolt.Open(path, 0o600, nil)
	must(t, err)
	must(t, bdb.Update(func(tx *bbolt.Tx) error {
		bucket := func(name string) *bbolt.Bucket {
			b, err := tx.CreateBucketIfNotExists([]byte(name))
			must(t, err)
			return b
		}
		keys, keysExp := bucket("idempotency"), bucket("idempotency_expiry")
		for key, rec := range map[string]string{
			"done":     fmt.Sprintf(`{"done":true,"attempt":1,"expires_at":%d}`, far),
			"released": fmt.Sprintf(`{"attempt":1,"released":1,"expires_at":%d}`, far),
			"held":     fmt.Sprintf(`{"attempt":2,"token":"abc","lease_until":%d,"expires_at":%d}`, far, far),
		} {
			must(t, keys.Put([]byte(key), []byte(rec)))
			must(t, keysExp.Put(join(timeKey(time.Unix(0, far)), []byte(key)), nil))
		}
		v, err := json.Marshal(d)
		must(t, err)
		must(t, bucket("deliveries").Put([]byte(d.ID), v))
		must(t, bucket("deliveries_by_endpoint").Put(byEndpointKey(d), binary.BigEndian.AppendUint64(nil, uint64(d.ExpiresAt.UnixNano()))))
		must(t, bucket("deliveries_expiry").Put(expiryKey(d), nil))
		q, err := bucket("queues").CreateBucket([]byte("legacy-q"))
		must(t, err)
		for i, body := range []string{"one", "two", "three"} {
			v := []byte{legacyMessageVersion}
			v = binary.BigEndian.AppendUint64(v, uint64(now.UnixNano()))
			v = binary.BigEndian.AppendUint64(v, uint64(now.UnixNano()))
			id := fmt.Sprint("msg-", i)
			v = append(append(append(v, byte(len(id))), id...), body...)
			must(t, q.Put(seqKey(uint64(i+1)), v))
		}
		return nil
	}))
	must(t, bdb.Close())

	db := openAt(t, path, Options{})
	for _, tc := range []struct {
		key  string
		n    int
		want error
	}{
		{"done", 2, webhook.ErrDone},
		{"released", 1, webhook.ErrStale},
		{"held", 2, nil}, // a stored lease is dropped
	} {
		if _, err := db.Acquire(ctx, tc.key, tc.n, time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("Acquire(%s, %d) = %v, want %v", tc.key, tc.n, err, tc.want)
		}
	}
	got, err := db.GetDelivery(ctx, d.ID)
	must(t, err)
	webhooktest.CheckEqual(t, "delivery", got, d)
	ds, _, err := db.ListDeliveries(ctx, d.EndpointID, webhook.Page{})
	must(t, err)
	if len(ds) != 1 || ds[0].ID != d.ID {
		t.Errorf("ListDeliveries = %d deliveries, want %s", len(ds), d.ID)
	}
	must(t, db.AppendAttempt(ctx, d, webhooktest.NewAttempt(3, now, 200)))
	if got, err := db.GetDelivery(ctx, d.ID); err != nil || len(got.Attempts) != 3 {
		t.Errorf("after AppendAttempt, GetDelivery = %v attempts, %v; want 3", len(got.Attempts), err)
	}

	if names := db.QueueNames(); !slices.Equal(names, []string{"legacy-q"}) {
		t.Errorf("QueueNames = %q, want [legacy-q]", names)
	}
	ms, err := db.ReceiveMessages(ctx, "legacy-q", 10, time.Minute, 0)
	must(t, err)
	var bodies []string
	for _, m := range ms {
		bodies = append(bodies, string(m.Body))
		if !m.SentAt.Equal(time.Unix(0, now.UnixNano())) {
			t.Errorf("message %s: SentAt %s, want %s", m.Body, m.SentAt, now)
		}
	}
	if !slices.Equal(bodies, []string{"one", "two", "three"}) {
		t.Errorf("received %q, want one, two, three in order", bodies)
	}

	must(t, db.bolt.View(func(tx *bbolt.Tx) error {
		for _, name := range []string{"idempotency", "deliveries"} {
			if tx.Bucket([]byte(name)) != nil {
				t.Errorf("legacy bucket %s left", name)
			}
		}
		return tx.Bucket(bucketQueues).ForEachBucket(func(name []byte) error {
			t.Errorf("legacy queue bucket %s left", name)
			return nil
		})
	}))
}
