package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Files written by earlier versions kept everything in one file, with
// queues as one bucket per queue under "queues", idempotency keys (leases
// included) as JSON in "idempotency" and delivery records as JSON keyed by
// id in "deliveries". Open moves such data to the present layout, a batch
// of records (or a queue) per transaction, so an interrupted migration
// resumes at the next Open.
var (
	legacyKeys       = []byte("idempotency") // key → legacyKeyRecord JSON
	legacyDeliveries = []byte("deliveries")  // id → Delivery JSON
)

const (
	legacyMessageVersion = 1
	migrateBatch         = 10000 // records per transaction
)

type legacyKeyRecord struct {
	Done      bool  `json:"done,omitempty"`
	Attempt   int   `json:"attempt"`
	Released  int   `json:"released,omitempty"`
	ExpiresAt int64 `json:"expires_at"`
	// Token and LeaseUntil, a stored lease, are dropped: leases do not
	// outlive the process that took them.
}

// migrate moves data in the legacy layout, if any, to the present one.
func (db *DB) migrate() error {
	if err := db.migrateQueues(); err != nil {
		return fmt.Errorf("migrate queues: %w", err)
	}
	if err := migrateBuckets(db.bolt, legacyKeys, migrateKey); err != nil {
		return fmt.Errorf("migrate idempotency keys: %w", err)
	}
	if err := migrateBuckets(db.bolt, legacyDeliveries, migrateDelivery); err != nil {
		return fmt.Errorf("migrate deliveries: %w", err)
	}
	return nil
}

// migrateBuckets moves the records of the legacy bucket name with move, a
// batch per transaction, then drops the bucket.
func migrateBuckets(bdb *bbolt.DB, name []byte, move func(tx *bbolt.Tx, k, v []byte) error) error {
	for done := false; !done; {
		err := bdb.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(name)
			if b == nil {
				done = true
				return nil
			}
			var ks [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil && len(ks) < migrateBatch; k, v = c.Next() {
				if v == nil {
					return fmt.Errorf("%s: unexpected bucket %q", name, k)
				}
				if err := move(tx, k, v); err != nil {
					return fmt.Errorf("%s: %q: %w", name, k, err)
				}
				ks = append(ks, k)
			}
			for _, k := range ks {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			if len(ks) < migrateBatch {
				done = true
				return tx.DeleteBucket(name)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrateKey stores a legacy key record in the present form; its entry in
// the expiry index is unchanged.
func migrateKey(tx *bbolt.Tx, k, v []byte) error {
	var old legacyKeyRecord
	if err := json.Unmarshal(v, &old); err != nil {
		return err
	}
	rec := keyRecord{Done: old.Done, Attempt: old.Attempt, Released: old.Released, ExpiresAt: old.ExpiresAt}
	return tx.Bucket(bucketIDs).Put(keyID(string(k)), rec.encode())
}

// migrateDelivery stores a legacy delivery record in the present form; its
// entry in the endpoint index is rewritten, its entry in the expiry index
// is unchanged.
func migrateDelivery(tx *bbolt.Tx, _, v []byte) error {
	var d webhook.Delivery
	if err := json.Unmarshal(v, &d); err != nil {
		return err
	}
	return putDelivery(tx, &d, nil, slices.Clone(v))
}

// migrateQueues moves the messages of each legacy per-queue bucket to the
// messages bucket, in order, one queue per transaction.
func (db *DB) migrateQueues() error {
	var names [][]byte
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketQueues).ForEachBucket(func(name []byte) error {
			names = append(names, slices.Clone(name))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			qs := tx.Bucket(bucketQueues)
			msgs, err := tx.CreateBucketIfNotExists(bucketMessages)
			if err != nil {
				return err
			}
			msgs.FillPercent = appendFill
			var vs [][]byte
			err = qs.Bucket(name).ForEach(func(k, v []byte) error {
				m, err := migrateMessage(string(name), v)
				if err != nil {
					return fmt.Errorf("queue %s: message %x: %w", name, k, err)
				}
				vs = append(vs, m)
				return nil
			})
			if err != nil {
				return err
			}
			for _, v := range vs {
				seq, err := msgs.NextSequence()
				if err != nil {
					return err
				}
				if err := msgs.Put(seqKey(seq), v); err != nil {
					return err
				}
			}
			if err := qs.DeleteBucket(name); err != nil {
				return err
			}
			return qs.Put(name, nil)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrateMessage re-encodes a legacy message:
// version(1) | readyAt(8) | sentAt(8) | len(id)(1) | id | body.
func migrateMessage(queue string, v []byte) ([]byte, error) {
	if len(v) < 18 || v[0] != legacyMessageVersion || len(v) < 18+int(v[17]) {
		return nil, errCorruptMessage
	}
	readyAt := int64(binary.BigEndian.Uint64(v[1:]))
	sentAt := int64(binary.BigEndian.Uint64(v[9:]))
	n := 18 + int(v[17])
	return encodeMessage(queue, string(v[18:n]), readyAt, sentAt, v[n:]), nil
}
