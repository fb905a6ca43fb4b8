package fanout

import (
	"context"
	"sync"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Cache keeps the endpoint list in memory so that matching does not read
// the store per event. A change made elsewhere is seen within TTL (the
// filter Lambda's bounded staleness); local mode also calls Invalidate when
// its own API changes an endpoint, so it sees changes at once.
type Cache struct {
	Store EndpointLister
	TTL   time.Duration
	Now   func() time.Time

	mu      sync.Mutex
	eps     []*webhook.Endpoint
	fetched time.Time
}

// StaleGrace is how long past TTL a cached list is still served when the
// store fails to refresh it.
const StaleGrace = time.Minute

// ListEndpoints returns the cached list, refreshing it when older than TTL.
// The returned endpoints are shared: callers must not modify them.
func (c *Cache) ListEndpoints(ctx context.Context) ([]*webhook.Endpoint, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eps != nil && now().Sub(c.fetched) < c.TTL {
		return c.eps, nil
	}
	eps, err := c.Store.ListEndpoints(ctx)
	if err != nil {
		if c.eps != nil && now().Sub(c.fetched) < c.TTL+StaleGrace {
			return c.eps, nil // serve stale rather than fail while the store blips
		}
		return nil, err
	}
	if eps == nil {
		eps = []*webhook.Endpoint{}
	}
	c.eps, c.fetched = eps, now()
	return eps, nil
}

// Invalidate drops the cached list.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.eps = nil
	c.mu.Unlock()
}
