package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// A delivery is one JSON record in delivery_records, keyed by a sequence
// number (so records are appended, in the order deliveries are first
// logged), plus three index entries: its id in ids (id|'d' → sequence
// number, beside the delivery's idempotency key); one in
// deliveries_by_endpoint (endpoint, newest CreatedAt first, id → sequence
// number and expiry, so listings skip expired records without decoding
// them); and one in deliveries_expiry (expiry, id) for the sweep. A zero
// ExpiresAt means the record never expires. A later attempt rewrites the
// record in place.

// byEndpointValue is a deliveries_by_endpoint value: the record's sequence
// number and its expiry (math.MaxInt64: never).
func byEndpointValue(seq []byte, expiresAt time.Time) []byte {
	exp := int64(math.MaxInt64)
	if !expiresAt.IsZero() {
		exp = nanos(expiresAt)
	}
	return binary.BigEndian.AppendUint64(slices.Clip(seq), uint64(exp))
}

// expired reports whether a deliveries_by_endpoint value is past now.
func expired(v []byte, now int64) bool {
	return len(v) == 16 && int64(binary.BigEndian.Uint64(v[8:])) <= now
}

func isExpired(t time.Time, now time.Time) bool { return !t.IsZero() && !t.After(now) }

func byEndpointKey(d *webhook.Delivery) []byte {
	return join(endpointPrefix(d.EndpointID), invTimeKey(d.CreatedAt), []byte(d.ID))
}

func expiryKey(d *webhook.Delivery) []byte {
	return join(timeKey(d.ExpiresAt), []byte(d.ID))
}

// getDelivery returns the delivery with id and its record's key, or nil.
// In a read transaction, the caller holds db.records.gate for reading.
func (db *DB) getDelivery(tx *bbolt.Tx, id string) (*webhook.Delivery, []byte, error) {
	seq := tx.Bucket(bucketIDs).Get(deliveryID(id))
	if seq == nil {
		return nil, nil, nil
	}
	d, err := db.getRecord(tx, seq)
	if err != nil || d == nil {
		return nil, nil, err
	}
	return d, seq, nil
}

// getRecord returns the delivery whose record is at seq, or nil. In a read
// transaction, the caller holds db.records.gate for reading.
func (db *DB) getRecord(tx *bbolt.Tx, seq []byte) (*webhook.Delivery, error) {
	v := tx.Bucket(bucketDeliveryRecords).Get(seq)
	if v == nil {
		return nil, nil
	}
	if isRef(v) {
		var err error
		if v, err = db.readRecord(v); err != nil {
			return nil, fmt.Errorf("delivery %x: %w", seq, err)
		}
	}
	d := new(webhook.Delivery)
	if err := json.Unmarshal(v, d); err != nil {
		return nil, fmt.Errorf("decode delivery %x: %w", seq, err)
	}
	return d, nil
}

// deleteIndexes removes d's entries in the endpoint and expiry indexes.
func deleteIndexes(tx *bbolt.Tx, d *webhook.Delivery) error {
	if err := tx.Bucket(bucketDeliveriesEndpoint).Delete(byEndpointKey(d)); err != nil {
		return err
	}
	if !d.ExpiresAt.IsZero() {
		if err := tx.Bucket(bucketDeliveriesExpiry).Delete(expiryKey(d)); err != nil {
			return err
		}
	}
	return nil
}

// deleteDelivery removes d, whose record is at seq, and its index entries.
func deleteDelivery(tx *bbolt.Tx, d *webhook.Delivery, seq []byte) error {
	if err := deleteIndexes(tx, d); err != nil {
		return err
	}
	if err := tx.Bucket(bucketIDs).Delete(deliveryID(d.ID)); err != nil {
		return err
	}
	records := tx.Bucket(bucketDeliveryRecords)
	if old := records.Get(seq); isRef(old) {
		if err := countRef(tx, old, -1); err != nil {
			return err
		}
	}
	return records.Delete(seq)
}

// putDelivery stores d's record v (a reference to its log record, or its
// JSON) at seq (a new one if nil) and indexes it.
func putDelivery(tx *bbolt.Tx, d *webhook.Delivery, seq, v []byte) error {
	records := tx.Bucket(bucketDeliveryRecords)
	if seq != nil {
		if old := records.Get(seq); isRef(old) {
			if err := countRef(tx, old, -1); err != nil {
				return err
			}
		}
	}
	if isRef(v) {
		if err := countRef(tx, v, 1); err != nil {
			return err
		}
	}
	if seq == nil {
		n, err := records.NextSequence()
		if err != nil {
			return err
		}
		seq = seqKey(n)
		records.FillPercent = appendFill
		if err := tx.Bucket(bucketIDs).Put(deliveryID(d.ID), seq); err != nil {
			return err
		}
	}
	if err := records.Put(seq, v); err != nil {
		return err
	}
	if err := tx.Bucket(bucketDeliveriesEndpoint).Put(byEndpointKey(d), byEndpointValue(seq, d.ExpiresAt)); err != nil {
		return err
	}
	if !d.ExpiresAt.IsZero() {
		exp := tx.Bucket(bucketDeliveriesExpiry)
		exp.FillPercent = appendFill
		if err := exp.Put(expiryKey(d), nil); err != nil {
			return err
		}
	}
	return nil
}

// AppendAttempt implements webhook.DeliveryLog. A record past its ExpiresAt
// counts as absent: the call creates it afresh. The record of a new
// delivery is encoded before the write is queued, so the group commit only
// has to check that the delivery is new and store it.
func (db *DB) AppendAttempt(ctx context.Context, d *webhook.Delivery, a webhook.Attempt) error {
	if err := webhook.CheckAppend(d, a); err != nil {
		return fmt.Errorf("bolt: append attempt to %q: %w", d.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: append attempt %d to %s: %w", a.N, d.ID, err)
	}
	if db.isClosed() {
		return fmt.Errorf("bolt: append attempt %d to %s: %w", a.N, d.ID, ErrClosed)
	}
	mu := db.journal.lockDelivery(d.ID)
	e, payload, err := db.attemptEntry(ctx, d, a)
	var g *walGroup
	if err == nil {
		g, err = db.journalWrite([]*journalEntry{e}, [][]byte{payload})
	}
	mu.Unlock()
	if err == nil {
		err = g.wait()
	}
	if err != nil {
		return fmt.Errorf("bolt: append attempt %d to %s: %w", a.N, d.ID, err)
	}
	return nil
}

// attemptEntry returns the journal entry of d's record with attempt a, and
// its payload; the caller holds d's lock until the entry is written.
func (db *DB) attemptEntry(ctx context.Context, d *webhook.Delivery, a webhook.Attempt) (*journalEntry, []byte, error) {
	old, err := db.currentDelivery(ctx, d.ID)
	if err != nil {
		return nil, nil, err
	}
	rec := *d
	rec.Attempts = []webhook.Attempt{a}
	if old != nil && !isExpired(old.ExpiresAt, db.now()) {
		rec = *old
		rec.Status, rec.UpdatedAt, rec.ExpiresAt = d.Status, d.UpdatedAt, d.ExpiresAt
		rec.Attempts = slices.DeleteFunc(slices.Clone(rec.Attempts), func(x webhook.Attempt) bool { return x.Compare(a) == 0 })
		rec.Attempts = append(rec.Attempts, a)
		slices.SortStableFunc(rec.Attempts, webhook.Attempt.Compare)
	}
	payload, err := encodeDelivery([]byte{recordDelivery}, &rec)
	if err != nil {
		return nil, nil, err
	}
	return &journalEntry{d: &rec, v: payload[1:], old: old}, payload, nil
}

// flush returns once the writes journaled before the call are in the
// B+tree (the next commit applies them).
func (db *DB) flush(ctx context.Context) error {
	return db.update(ctx, func(*bbolt.Tx) error { return nil })
}

// currentDelivery returns the delivery's latest record, journaled or in
// the B+tree, expired or not, or nil. The result must not be modified.
func (db *DB) currentDelivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	if e := db.journal.delivery(id); e != nil {
		return e.d, nil
	}
	if !db.ids.mayContain(deliveryID(id)) {
		return nil, nil
	}
	var d *webhook.Delivery
	err := db.viewRecords(ctx, func(tx *bbolt.Tx) error {
		var err error
		d, _, err = db.getDelivery(tx, id)
		return err
	})
	return d, err
}

// viewRecords is view for functions that read delivery records: it holds
// the kept segments' gate (see records.go).
func (db *DB) viewRecords(ctx context.Context, fn func(*bbolt.Tx) error) error {
	db.records.gate.RLock()
	defer db.records.gate.RUnlock()
	return db.view(ctx, fn)
}

// GetDelivery implements webhook.DeliveryLog.
func (db *DB) GetDelivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bolt: get delivery %s: %w", id, err)
	}
	if db.isClosed() {
		return nil, fmt.Errorf("bolt: get delivery %s: %w", id, ErrClosed)
	}
	var d *webhook.Delivery
	var err error
	if e := db.journal.delivery(id); e != nil {
		d = new(webhook.Delivery) // a copy the caller may change
		err = json.Unmarshal(e.v, d)
	} else if db.ids.mayContain(deliveryID(id)) {
		err = db.viewRecords(ctx, func(tx *bbolt.Tx) error {
			var err error
			d, _, err = db.getDelivery(tx, id)
			return err
		})
	}
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
	if err := db.flush(ctx); err != nil {
		return nil, "", fmt.Errorf("bolt: list deliveries of %s: %w", endpointID, err)
	}
	var (
		ds   []*webhook.Delivery
		next string
	)
	err := db.viewRecords(ctx, func(tx *bbolt.Tx) error {
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
			d, err := db.getRecord(tx, v[:8])
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
			d, seq, err := db.getDelivery(tx, string(k[8:]))
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
			if err := deleteDelivery(tx, d, seq); err != nil {
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
			if id := keyID(string(key)); tx.Bucket(bucketIDs).Get(id) != nil {
				if err := tx.Bucket(bucketIDs).Delete(id); err != nil {
					return err
				}
				removed++
			}
		}
		return nil
	})
	if err == nil {
		err = db.removeUnused()
	}
	if err != nil {
		return 0, fmt.Errorf("bolt: sweep: %w", err)
	}
	db.forgetLeases(db.now().UnixNano())
	return removed, nil
}

func (db *DB) sweepLoop() {
	db.every(db.opts.SweepInterval, func() {
		// Errors are retried at the next tick and reported by Stats.
		if _, err := db.Sweep(context.Background()); err != nil {
			db.sweepErr.Store(err.Error())
		} else {
			db.sweepErr.Store("")
		}
	})
}
