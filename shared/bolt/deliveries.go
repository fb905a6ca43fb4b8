package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// A delivery is one JSON record in deliveries plus two index entries: one in
// deliveries_by_endpoint (endpoint, newest CreatedAt first, id; the value is
// the record's expiry so listings skip expired records without decoding
// them) and one in deliveries_expiry (expiry, id) for the sweep. A zero
// ExpiresAt means the record never expires.

func expiryValue(t time.Time) []byte {
	if t.IsZero() {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(nanos(t)))
}

// expired reports whether an index value from expiryValue is past now.
func expired(v []byte, now int64) bool {
	return len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= now
}

func isExpired(t time.Time, now time.Time) bool { return !t.IsZero() && !t.After(now) }

func byEndpointKey(d *webhook.Delivery) []byte {
	return join(endpointPrefix(d.EndpointID), invTimeKey(d.CreatedAt), []byte(d.ID))
}

func getDelivery(tx *bbolt.Tx, id string) (*webhook.Delivery, error) {
	v := tx.Bucket(bucketDeliveries).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	d := new(webhook.Delivery)
	if err := json.Unmarshal(v, d); err != nil {
		return nil, fmt.Errorf("decode delivery %s: %w", id, err)
	}
	return d, nil
}

// deleteDelivery removes d and its index entries.
func deleteDelivery(tx *bbolt.Tx, d *webhook.Delivery) error {
	if err := tx.Bucket(bucketDeliveriesEndpoint).Delete(byEndpointKey(d)); err != nil {
		return err
	}
	if !d.ExpiresAt.IsZero() {
		if err := tx.Bucket(bucketDeliveriesExpiry).Delete(join(timeKey(d.ExpiresAt), []byte(d.ID))); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketDeliveries).Delete([]byte(d.ID))
}

func putDelivery(tx *bbolt.Tx, d *webhook.Delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketDeliveriesEndpoint).Put(byEndpointKey(d), expiryValue(d.ExpiresAt)); err != nil {
		return err
	}
	if !d.ExpiresAt.IsZero() {
		if err := tx.Bucket(bucketDeliveriesExpiry).Put(join(timeKey(d.ExpiresAt), []byte(d.ID)), nil); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketDeliveries).Put([]byte(d.ID), v)
}

// AppendAttempt implements webhook.DeliveryLog. A record past its ExpiresAt
// counts as absent: the call creates it afresh.
func (db *DB) AppendAttempt(ctx context.Context, d *webhook.Delivery, a webhook.Attempt) error {
	switch {
	case d.ID == "":
		return fmt.Errorf("bolt: append attempt: %w", webhook.Invalid("id", "required"))
	case d.EndpointID == "":
		return fmt.Errorf("bolt: append attempt to %s: %w", d.ID, webhook.Invalid("endpoint_id", "required"))
	case a.N < 1:
		return fmt.Errorf("bolt: append attempt to %s: %w", d.ID, webhook.Invalid("attempt", "must be at least 1, got %d", a.N))
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		rec, err := getDelivery(tx, d.ID)
		if err != nil {
			return err
		}
		if rec != nil {
			// Drop the old index entries; putDelivery writes the new ones.
			if err := deleteDelivery(tx, rec); err != nil {
				return err
			}
			if isExpired(rec.ExpiresAt, db.now()) {
				rec = nil
			}
		}
		if rec == nil {
			c := *d
			rec = &c
			rec.Attempts = nil
		}
		rec.Status, rec.UpdatedAt, rec.ExpiresAt = d.Status, d.UpdatedAt, d.ExpiresAt
		rec.Attempts = slices.DeleteFunc(slices.Clone(rec.Attempts), func(x webhook.Attempt) bool { return x.N == a.N })
		rec.Attempts = append(rec.Attempts, a)
		slices.SortStableFunc(rec.Attempts, func(x, y webhook.Attempt) int { return x.N - y.N })
		return putDelivery(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("bolt: append attempt %d to %s: %w", a.N, d.ID, err)
	}
	return nil
}

// GetDelivery implements webhook.DeliveryLog.
func (db *DB) GetDelivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	var d *webhook.Delivery
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		d, err = getDelivery(tx, id)
		return err
	})
	if err == nil && (d == nil || isExpired(d.ExpiresAt, db.now())) {
		err = webhook.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: get delivery %s: %w", id, err)
	}
	return d, nil
}

// ListDeliveries implements webhook.DeliveryLog. Ties in CreatedAt are
// ordered by id. The cursor is the index key of the page's last record, so
// records written between pages never cause duplicates or gaps among the
// records that were already there.
func (db *DB) ListDeliveries(ctx context.Context, endpointID string, p webhook.Page) ([]*webhook.Delivery, string, error) {
	limit := pageLimit(p)
	prefix := endpointPrefix(endpointID)
	var after []byte
	if p.Cursor != "" {
		k, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("bolt: list deliveries of %s: %w", endpointID, err)
		}
		after = join(prefix, k)
	}
	var (
		ds   []*webhook.Delivery
		next string
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ds, next = nil, ""
		now := db.now().UnixNano()
		c := tx.Bucket(bucketDeliveriesEndpoint).Cursor()
		k, v := c.Seek(prefix)
		if after != nil {
			k, v = c.Seek(after)
			if bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		var last []byte
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if expired(v, now) {
				continue
			}
			if len(ds) == limit {
				next = encodeCursor(last[len(prefix):])
				return nil
			}
			id := k[len(prefix)+8:]
			d, err := getDelivery(tx, string(id))
			if err != nil {
				return err
			}
			if d == nil {
				continue // cannot happen: the index is written with the record
			}
			ds = append(ds, d)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("bolt: list deliveries of %s: %w", endpointID, err)
	}
	return ds, next, nil
}

// Sweep removes expired delivery records and idempotency keys: at most
// Options.SweepLimit of each, in one transaction. The background sweep
// calls it every Options.SweepInterval; tests and tools may call it
// directly. It returns how many records it removed.
func (db *DB) Sweep(ctx context.Context) (int, error) {
	var removed int
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		removed = 0
		now := db.now().UnixNano()

		var ids [][]byte
		c := tx.Bucket(bucketDeliveriesExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < db.opts.SweepLimit && keyTime(k) <= now; k, _ = c.Next() {
			ids = append(ids, k)
		}
		for _, k := range ids {
			d, err := getDelivery(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if d == nil || nanos(d.ExpiresAt) != keyTime(k) {
				// A stray index entry; the record is gone or moved.
				if err := tx.Bucket(bucketDeliveriesExpiry).Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := deleteDelivery(tx, d); err != nil {
				return err
			}
			removed++
		}

		var keys [][]byte
		c = tx.Bucket(bucketKeysExpiry).Cursor()
		for k, _ := c.First(); k != nil && len(keys) < db.opts.SweepLimit && keyTime(k) <= now; k, _ = c.Next() {
			keys = append(keys, k)
		}
		for _, k := range keys {
			if err := tx.Bucket(bucketKeysExpiry).Delete(k); err != nil {
				return err
			}
			key := k[8:]
			rec, _, err := getKey(tx, string(key), now)
			if err != nil {
				return err
			}
			if rec != nil {
				continue // a stray index entry: the key lives on
			}
			if tx.Bucket(bucketKeys).Get(key) != nil {
				if err := tx.Bucket(bucketKeys).Delete(key); err != nil {
					return err
				}
				removed++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: sweep: %w", err)
	}
	return removed, nil
}

func (db *DB) sweepLoop() {
	defer db.wg.Done()
	t := time.NewTicker(db.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-db.done:
			return
		case <-t.C:
			db.Sweep(context.Background()) // errors: retried at the next tick
		}
	}
}
