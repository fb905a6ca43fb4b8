package fanout

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Cache keeps the endpoint list in memory so that matching does not read
// the store per event. A change made elsewhere is seen within TTL (the
// filter Lambda's bounded staleness); local mode also calls Invalidate when
// its own API changes an endpoint, so it sees changes at once.
//
// It also serves single endpoints (GetEndpoint) from the same list, which
// is how local mode's deliveries look up their endpoint: the same bound
// applies to them.
type Cache struct {
	Store EndpointLister
	TTL   time.Duration
	Now   func() time.Time

	mu   sync.Mutex // held while refreshing, and by Invalidate
	snap atomic.Pointer[snapshot]
}

// snapshot is one fetch of the endpoint list.
type snapshot struct {
	eps     []*webhook.Endpoint
	byID    map[string]*webhook.Endpoint
	fetched time.Time
}

// StaleGrace is how long past TTL a cached list is still served when the
// store fails to refresh it.
const StaleGrace = time.Minute

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ListEndpoints returns the cached list, refreshing it when older than TTL.
// The returned endpoints are shared: callers must not modify them.
func (c *Cache) ListEndpoints(ctx context.Context) ([]*webhook.Endpoint, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	return s.eps, nil
}

// GetEndpoint implements delivery.EndpointGetter: the endpoint with id
// from the cached list (refreshed as ListEndpoints does), so a delivery
// sees a disable, an update, a secret rotation or a deletion made
// elsewhere within TTL, and one made through Invalidate's caller at once.
// An id the list lacks (an endpoint created since the last refresh, or a
// deleted one's leftover tasks) is read from the Store, which must then
// be a delivery.EndpointGetter too; otherwise it is webhook.ErrNotFound.
// The returned endpoint is shared: callers must not modify it.
func (c *Cache) GetEndpoint(ctx context.Context, id string) (*webhook.Endpoint, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if ep, ok := s.byID[id]; ok {
		return ep, nil
	}
	if g, ok := c.Store.(delivery.EndpointGetter); ok {
		return g.GetEndpoint(ctx, id)
	}
	return nil, fmt.Errorf("fanout: endpoint %s: %w", id, webhook.ErrNotFound)
}

// current returns a snapshot no older than TTL, fetching one if needed.
func (c *Cache) current(ctx context.Context) (*snapshot, error) {
	if s := c.snap.Load(); s != nil && c.now().Sub(s.fetched) < c.TTL {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap.Load() // another caller may have refreshed it meanwhile
	if s != nil && c.now().Sub(s.fetched) < c.TTL {
		return s, nil
	}
	eps, err := c.Store.ListEndpoints(ctx)
	if err != nil {
		if s != nil && c.now().Sub(s.fetched) < c.TTL+StaleGrace {
			return s, nil // serve stale rather than fail while the store blips
		}
		return nil, err
	}
	if eps == nil {
		eps = []*webhook.Endpoint{}
	}
	s = &snapshot{eps: eps, byID: make(map[string]*webhook.Endpoint, len(eps)), fetched: c.now()}
	for _, ep := range eps {
		s.byID[ep.ID] = ep
	}
	c.snap.Store(s)
	return s, nil
}

// Invalidate drops the cached list. A refresh under way when it is called
// finishes first, so the list fetched next starts after the call.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.snap.Store(nil)
	c.mu.Unlock()
}
