package bolt

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// endpointRecord is an endpoint as stored: the domain JSON, except that
// Filter is kept byte for byte (encoding/json would compact a RawMessage).
type endpointRecord struct {
	*webhook.Endpoint
	Filter []byte `json:"filter,omitempty"`
}

func encodeEndpoint(e *webhook.Endpoint) ([]byte, error) {
	return json.Marshal(endpointRecord{Endpoint: e, Filter: e.Filter})
}

func decodeEndpoint(v []byte) (*webhook.Endpoint, error) {
	r := endpointRecord{Endpoint: new(webhook.Endpoint)}
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, err
	}
	r.Endpoint.Filter = r.Filter
	return r.Endpoint, nil
}

// CreateEndpoint implements webhook.EndpointStore.
func (db *DB) CreateEndpoint(ctx context.Context, e *webhook.Endpoint) error {
	if e.ID == "" {
		return fmt.Errorf("bolt: create endpoint: %w", webhook.Invalid("id", "required"))
	}
	v, err := encodeEndpoint(e)
	if err != nil {
		return fmt.Errorf("bolt: create endpoint %s: %w", e.ID, err)
	}
	var exists bool
	err = db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketEndpoints)
		exists = b.Get([]byte(e.ID)) != nil
		if exists {
			return nil
		}
		return b.Put([]byte(e.ID), v)
	})
	switch {
	case err != nil:
		return fmt.Errorf("bolt: create endpoint %s: %w", e.ID, err)
	case exists:
		return fmt.Errorf("bolt: create endpoint %s: id in use: %w", e.ID, webhook.ErrConflict)
	}
	return nil
}

// GetEndpoint implements webhook.EndpointStore.
func (db *DB) GetEndpoint(ctx context.Context, id string) (*webhook.Endpoint, error) {
	var e *webhook.Endpoint
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketEndpoints).Get([]byte(id))
		if v == nil {
			return webhook.ErrNotFound
		}
		var err error
		e, err = decodeEndpoint(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get endpoint %s: %w", id, err)
	}
	return e, nil
}

// ListEndpoints implements webhook.EndpointStore. Endpoints are few (a
// plan allows at most 50), so it reads them all and sorts.
func (db *DB) ListEndpoints(ctx context.Context) ([]*webhook.Endpoint, error) {
	var es []*webhook.Endpoint
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketEndpoints).ForEach(func(k, v []byte) error {
			e, err := decodeEndpoint(v)
			if err != nil {
				return fmt.Errorf("decode %s: %w", k, err)
			}
			es = append(es, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list endpoints: %w", err)
	}
	slices.SortFunc(es, func(a, b *webhook.Endpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return es, nil
}

// UpdateEndpoint implements webhook.EndpointStore.
func (db *DB) UpdateEndpoint(ctx context.Context, e *webhook.Endpoint) error {
	v, err := encodeEndpoint(e)
	if err != nil {
		return fmt.Errorf("bolt: update endpoint %s: %w", e.ID, err)
	}
	var result error
	err = db.update(ctx, func(tx *bbolt.Tx) error {
		result = nil
		b := tx.Bucket(bucketEndpoints)
		old := b.Get([]byte(e.ID))
		if old == nil {
			result = webhook.ErrNotFound
			return nil
		}
		var stored struct {
			Version int64 `json:"version"`
		}
		if err := json.Unmarshal(old, &stored); err != nil {
			return fmt.Errorf("decode stored endpoint: %w", err)
		}
		if stored.Version != e.Version-1 {
			result = fmt.Errorf("stored version is %d, want %d: %w", stored.Version, e.Version-1, webhook.ErrConflict)
			return nil
		}
		return b.Put([]byte(e.ID), v)
	})
	if err == nil {
		err = result
	}
	if err != nil {
		return fmt.Errorf("bolt: update endpoint %s: %w", e.ID, err)
	}
	return nil
}

// DeleteEndpoint implements webhook.EndpointStore.
func (db *DB) DeleteEndpoint(ctx context.Context, id string) error {
	var found bool
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketEndpoints)
		found = b.Get([]byte(id)) != nil
		if !found {
			return nil
		}
		return b.Delete([]byte(id))
	})
	switch {
	case err != nil:
		return fmt.Errorf("bolt: delete endpoint %s: %w", id, err)
	case !found:
		return fmt.Errorf("bolt: delete endpoint %s: %w", id, webhook.ErrNotFound)
	}
	return nil
}
