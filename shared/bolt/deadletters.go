package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// deadLetterRecord is a dead letter as stored: the domain JSON, except that
// the event's data is kept byte for byte (encoding/json would compact and
// HTML-escape a RawMessage).
type deadLetterRecord struct {
	*webhook.DeadLetter
	Event *eventRecord `json:"event,omitempty"`
}

type eventRecord struct {
	*webhook.Event
	Data []byte `json:"data"`
}

func encodeDeadLetter(dl *webhook.DeadLetter) ([]byte, error) {
	r := deadLetterRecord{DeadLetter: dl}
	if dl.Event != nil {
		r.Event = &eventRecord{Event: dl.Event, Data: dl.Event.Data}
	}
	return json.Marshal(r)
}

func decodeDeadLetter(v []byte) (*webhook.DeadLetter, error) {
	r := deadLetterRecord{DeadLetter: new(webhook.DeadLetter)}
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, err
	}
	if r.Event != nil {
		ev := webhook.Event{}
		if r.Event.Event != nil {
			ev = *r.Event.Event
		}
		ev.Data = r.Event.Data
		r.DeadLetter.Event = &ev
	}
	return r.DeadLetter, nil
}

func deadLetterAtKey(dl *webhook.DeadLetter) []byte {
	return join(timeKey(dl.At), []byte(dl.ID))
}

func getDeadLetter(tx *bbolt.Tx, id string) (*webhook.DeadLetter, error) {
	v := tx.Bucket(bucketDeadLetters).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	dl, err := decodeDeadLetter(v)
	if err != nil {
		return nil, fmt.Errorf("decode dead letter %s: %w", id, err)
	}
	return dl, nil
}

// PutDeadLetter implements webhook.DeadLetters. A replaced dead letter
// takes its place in the listing by its new At.
func (db *DB) PutDeadLetter(ctx context.Context, dl *webhook.DeadLetter) error {
	if dl.ID == "" {
		return fmt.Errorf("bolt: put dead letter: %w", webhook.Invalid("id", "required"))
	}
	v, err := encodeDeadLetter(dl)
	if err != nil {
		return fmt.Errorf("bolt: put dead letter %s: %w", dl.ID, err)
	}
	err = db.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getDeadLetter(tx, dl.ID)
		if err != nil {
			return err
		}
		at := tx.Bucket(bucketDeadLettersAt)
		if old != nil {
			if err := at.Delete(deadLetterAtKey(old)); err != nil {
				return err
			}
		}
		if err := at.Put(deadLetterAtKey(dl), nil); err != nil {
			return err
		}
		return tx.Bucket(bucketDeadLetters).Put([]byte(dl.ID), v)
	})
	if err != nil {
		return fmt.Errorf("bolt: put dead letter %s: %w", dl.ID, err)
	}
	return nil
}

// GetDeadLetter implements webhook.DeadLetters.
func (db *DB) GetDeadLetter(ctx context.Context, id string) (*webhook.DeadLetter, error) {
	var dl *webhook.DeadLetter
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		dl, err = getDeadLetter(tx, id)
		return err
	})
	if err == nil && dl == nil {
		err = webhook.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: get dead letter %s: %w", id, err)
	}
	return dl, nil
}

// ListDeadLetters implements webhook.DeadLetters: oldest At first, ties by
// id.
func (db *DB) ListDeadLetters(ctx context.Context, p webhook.Page) ([]*webhook.DeadLetter, string, error) {
	limit := pageLimit(p)
	var after []byte
	if p.Cursor != "" {
		k, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("bolt: list dead letters: %w", err)
		}
		after = k
	}
	var (
		dls  []*webhook.DeadLetter
		next string
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		dls, next = nil, ""
		c := tx.Bucket(bucketDeadLettersAt).Cursor()
		k, _ := c.First()
		if after != nil {
			k, _ = c.Seek(after)
			if bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if len(dls) == limit {
				next = encodeCursor(deadLetterAtKey(dls[len(dls)-1]))
				return nil
			}
			dl, err := getDeadLetter(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if dl != nil {
				dls = append(dls, dl)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("bolt: list dead letters: %w", err)
	}
	return dls, next, nil
}

// DeleteDeadLetter implements webhook.DeadLetters.
func (db *DB) DeleteDeadLetter(ctx context.Context, id string) error {
	var found bool
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		dl, err := getDeadLetter(tx, id)
		if err != nil {
			return err
		}
		found = dl != nil
		if !found {
			return nil
		}
		if err := tx.Bucket(bucketDeadLettersAt).Delete(deadLetterAtKey(dl)); err != nil {
			return err
		}
		return tx.Bucket(bucketDeadLetters).Delete([]byte(id))
	})
	switch {
	case err != nil:
		return fmt.Errorf("bolt: delete dead letter %s: %w", id, err)
	case !found:
		return fmt.Errorf("bolt: delete dead letter %s: %w", id, webhook.ErrNotFound)
	}
	return nil
}
