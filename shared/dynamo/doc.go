// Package dynamo is the DynamoDB adapter: *Store implements
// webhook.EndpointStore, webhook.Idempotency, webhook.DeliveryLog,
// delivery.Settler and delivery.Limiter, and passes the webhooktest
// conformance suites against moto. It takes the SDK client through the
// narrow API interface. Schemas describes the tables once, for the stack
// and the tests.
//
// # Tables
//
// Every table has the partition key "id" (S) and no sort key, and bills on
// demand. Keys and Deliveries should be one table (see the cost below);
// the Store also works with two.
//
//	Endpoints   id = endpoint id
//	            version N      conditional writes: attribute_not_exists(id) to
//	                           create, version = e.Version-1 to update
//	            doc     S      the endpoint as JSON (Filter kept byte for byte)
//
//	Deliveries  id = delivery id (dlv_...) or any other idempotency key
//	            ("event:<id>", "<delivery id>#<generation>"); one item holds
//	            a key, a delivery log record, or both:
//	            key:  attempt N, released N, done BOOL, token S,
//	                  lease_until N, key_expires N
//	            log:  endpoint_id S, created_at N, event_id S, event_type S,
//	                  status S, updated_at N, log_expires N,
//	                  request S (JSON) | B (gzipped JSON, when over 8 KiB;
//	                  cut to 200 KiB gzipped, marked, if still larger),
//	                  att_1, att_2, ... S (each attempt as JSON)
//	            expires_at N   TTL, epoch seconds
//	            GSI by_endpoint: endpoint_id (S) / created_at (N), keys only;
//	            key-only items have no endpoint_id and are not indexed.
//
//	RateLimits  id = "<endpoint id>#<window start, epoch seconds>"
//	            n N, expires_at N (TTL: 10 min after the window)
//
// Times are Unix nanoseconds (N). The endpoint is one JSON attribute
// because it is always read and replaced whole; secrets are in it, so the
// table relies on DynamoDB encryption at rest and IAM (the stack's job).
// Each attempt is an attribute of its own, att_<n>, so appending is a SET
// with no read and no condition, and an attempt redone after a crash
// replaces its earlier record. The first-call fields (request, created_at,
// endpoint and event) are written with if_not_exists, so the request is
// kept once per delivery.
//
// # Expiry
//
// DynamoDB deletes expired items late (moto never does), so reads judge
// expiry themselves: a key past key_expires counts as absent, a log past
// log_expires is not found and not listed. An item's TTL, expires_at, is
// the later of its key's and its log's expiry, so neither is deleted
// early: Settle knows both; the other writes keep the later one, taking a
// second write, judged from the item the first returned, in the rare cases
// that need it (an expired key or log still stored is then reset, too).
// Acquire does not extend an existing TTL that already outlasts the
// lease; the lease's end extends it.
//
// # Cost of a delivery
//
// The Deliverer's calls for one delivery that succeeds at the first try:
//
//	GetEndpoint  1 GetItem                  (1 read, strongly consistent)
//	Wait         0 calls, or 1 UpdateItem   per chunk of up to 10 deliveries
//	Acquire      1 UpdateItem               (conditional; never a read)
//	Settle       1 UpdateItem               (attempt + status + request + end of lease)
//
// That is one read and two writes, plus a limiter write every few
// deliveries (measured by TestCallsPerDelivery: 10 deliveries, 10
// GetItems, 21 UpdateItems). Acquire reads nothing: when its condition
// fails, the failed write returns the item
// (ReturnValuesOnConditionCheckFailure ALL_OLD), which tells ErrDone,
// ErrStale and ErrHeld apart; only if the service returned no item does it
// fall back to a GetItem. Settle is one UpdateItem because the key and the
// log are one item; with separate tables, or a redrive's key
// "<delivery id>#<generation>", it makes two (log and lease, in parallel).
// The index is keys only, so only a delivery's first log write touches it.
//
// # Rate limiter
//
// Wait(endpoint, perMinute) counts deliveries in fixed one-minute windows
// of the clock, shared by every instance through the window's item. An
// instance reserves a chunk of k tokens — perMinute/10, between 1 and 10 —
// with one UpdateItem: ADD n :k, condition attribute_not_exists(n) OR
// n <= perMinute-k; it then hands the tokens out from memory, so most
// deliveries make no call; concurrent Waits of one endpoint share one
// reservation in flight. When the condition fails, the returned item
// says how many are left: the instance takes those (a smaller chunk) or,
// if none, remembers that the window is exhausted and defers until the
// next window plus up to 3 s of jitter, without another call until then.
// Tokens still held at the window's end are dropped.
//
// Bound: every reservation is one conditional write that leaves n ≤
// perMinute, and tokens are handed out only in the window they were
// reserved for, so no more than perMinute deliveries per endpoint start
// in a window, across all instances (if perMinute is lowered mid-window,
// tokens reserved under the old limit may still be used in that window).
// Windows are judged by each instance's clock, so skewed clocks shift an
// instance's windows by the skew. The price of the bound is waste: tokens
// an idle instance holds (at most k-1) are unavailable to the others until
// the window ends.
//
// # Errors
//
// A failed condition maps to webhook.ErrConflict, ErrNotFound, ErrDone,
// ErrStale or ErrHeld as each port's contract says; every other service
// error (throttling, a missing table, a 5xx, the network) is a
// webhook.Transient error with the operation named.
package dynamo
