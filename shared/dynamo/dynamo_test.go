package dynamo

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/mototest"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mototest.Stop()
	os.Exit(code)
}

// The Store is every port and optional interface the Deliverer looks for.
var (
	_ webhook.EndpointStore = (*Store)(nil)
	_ webhook.Idempotency   = (*Store)(nil)
	_ webhook.DeliveryLog   = (*Store)(nil)
	_ delivery.Settler      = (*Store)(nil)
	_ delivery.Limiter      = (*Store)(nil)
	_ API                   = (*dynamodb.Client)(nil)
	_ TableAPI              = (*dynamodb.Client)(nil)
)

// testTables share one table for keys and delivery logs, as deployed.
var testTables = Tables{Endpoints: "endpoints", Keys: "deliveries", Deliveries: "deliveries", RateLimits: "rate-limits"}

// fresh resets moto and creates tables, returning a client.
func fresh(t testing.TB, tables Tables) API {
	t.Helper()
	c := dynamodb.NewFromConfig(mototest.Config(mototest.Start(t)))
	mototest.Reset(t)
	if err := CreateTables(context.Background(), c, tables); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	return &serialized{API: c}
}

// serialized makes one call to moto at a time. moto_server handles
// requests on concurrent threads without a lock, so its conditional writes
// are not atomic: of 20 concurrent UpdateItems conditioned on
// attribute_not_exists, two sometimes both succeed (seen in about 1 round
// in 30). DynamoDB applies each item's writes one at a time; serializing
// the calls gives moto that guarantee. The concurrent tests still race
// their callers through the Store's code; only the server is serial.
var motoMu sync.Mutex

type serialized struct{ API }

func (c *serialized) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.GetItem(ctx, in, o...)
}

func (c *serialized) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.PutItem(ctx, in, o...)
}

func (c *serialized) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *serialized) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *serialized) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.Query(ctx, in, o...)
}

func (c *serialized) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.Scan(ctx, in, o...)
}

func (c *serialized) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	motoMu.Lock()
	defer motoMu.Unlock()
	return c.API.BatchGetItem(ctx, in, o...)
}

func TestEndpointStore(t *testing.T) {
	s := New(fresh(t, testTables), testTables, Options{})
	webhooktest.TestEndpointStore(t, func(*testing.T) webhook.EndpointStore { return s })
}

func TestIdempotency(t *testing.T) {
	s := New(fresh(t, testTables), testTables, Options{})
	webhooktest.TestIdempotency(t, func(*testing.T) webhook.Idempotency { return s })
}

func TestDeliveryLog(t *testing.T) {
	s := New(fresh(t, testTables), testTables, Options{})
	webhooktest.TestDeliveryLog(t, func(*testing.T) webhook.DeliveryLog { return s })
}

// With keys in a table of their own, the ports still conform (Settle then
// makes two writes; see TestSettle).
func TestIdempotencySeparateTable(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	tables := testTables
	tables.Keys = "keys"
	s := New(fresh(t, tables), tables, Options{})
	webhooktest.TestIdempotency(t, func(*testing.T) webhook.Idempotency { return s })
}

func TestSchemas(t *testing.T) {
	if got := len(Schemas(testTables)); got != 3 {
		t.Errorf("Schemas(keys and logs in one table) = %d tables, want 3", got)
	}
	split := testTables
	split.Keys = "keys"
	if got := len(Schemas(split)); got != 4 {
		t.Errorf("Schemas(keys apart) = %d tables, want 4", got)
	}
}

func TestServiceErrorsAreTransient(t *testing.T) {
	c := fresh(t, testTables)
	s := New(c, Tables{Endpoints: "missing", Keys: "missing", Deliveries: "missing", RateLimits: "missing"}, Options{})
	ctx := t.Context()
	_, err1 := s.GetEndpoint(ctx, "whk_x")
	_, err2 := s.Acquire(ctx, "dlv_x", 1, time.Minute)
	_, err3 := s.Wait(ctx, "whk_x", 10)
	for i, err := range []error{err1, err2, err3} {
		if webhook.KindOf(err) != webhook.KindTransient || errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("call %d on a missing table = %v (kind %q), want a transient error", i+1, err, webhook.KindOf(err))
		}
	}
}

// counting counts the calls made through an API.
type counting struct {
	API
	mu    sync.Mutex
	calls map[string]int
}

func count(api API) *counting { return &counting{API: api, calls: map[string]int{}} }

func (c *counting) inc(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counting) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = map[string]int{}
	return got
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.inc("GetItem")
	return c.API.GetItem(ctx, in, o...)
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.inc("PutItem")
	return c.API.PutItem(ctx, in, o...)
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.inc("UpdateItem")
	return c.API.UpdateItem(ctx, in, o...)
}

func (c *counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.inc("DeleteItem")
	return c.API.DeleteItem(ctx, in, o...)
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.inc("Query")
	return c.API.Query(ctx, in, o...)
}

func (c *counting) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.inc("Scan")
	return c.API.Scan(ctx, in, o...)
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.inc("BatchGetItem")
	return c.API.BatchGetItem(ctx, in, o...)
}

// rawItem reads an item as stored.
func rawItem(t *testing.T, c API, table, id string) item {
	t.Helper()
	out, err := c.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem(%s): %v", id, err)
	}
	return out.Item
}

// clock is an adjustable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestListReadsExpiredRecordsInPages: a page one live record short, then
// expired records (DynamoDB deletes them up to days late; moto never):
// the index is read in whole pages, not one Query and one BatchGetItem
// per expired record.
func TestListReadsExpiredRecordsInPages(t *testing.T) {
	api := count(fresh(t, testTables))
	s := New(api, testTables, Options{})
	ctx := t.Context()
	now := webhooktest.Now()
	ep := webhooktest.UniqueID("whk_")
	const limit, live, expired = 10, 9, 100
	for i := range live + expired {
		d := webhooktest.NewDelivery(ep, webhooktest.UniqueID("evt_"), now.Add(-time.Duration(i)*time.Second))
		if i >= live {
			d.ExpiresAt = now.Add(-time.Hour)
		}
		if err := s.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, d.CreatedAt, 200)); err != nil {
			t.Fatal(err)
		}
	}
	api.reset()
	ds, next, err := s.ListDeliveries(ctx, ep, webhook.Page{Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	calls := api.reset()
	if len(ds) != live || next != "" {
		t.Fatalf("listed %d, next %q; want the %d live ones and no cursor", len(ds), next, live)
	}
	if q := calls["Query"]; q > (live+expired)/limit+1 {
		t.Errorf("one page took %v; want about one Query per %d index entries", calls, limit)
	}
}
