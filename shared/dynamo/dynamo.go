package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// API is the part of the DynamoDB client the Store calls (*dynamodb.Client
// satisfies it).
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Tables names the tables the Store uses. Keys and Deliveries should name
// the same table: then a delivery's idempotency key and its log record are
// one item and a delivery costs two writes (see the package doc). Endpoints
// and RateLimits must be tables of their own.
type Tables struct {
	Endpoints  string
	Keys       string
	Deliveries string
	RateLimits string
}

// Options tune a Store. The zero value is usable.
type Options struct {
	// Now is the clock (default time.Now). Leases, expiry and rate-limit
	// windows are judged by it, so instances should have synced clocks.
	Now func() time.Time
	// KeyTTL is how long an idempotency key is remembered after its last
	// write (default 7 days).
	KeyTTL time.Duration
}

// DefaultKeyTTL is the default Options.KeyTTL.
const DefaultKeyTTL = 7 * 24 * time.Hour

// Store implements webhook.EndpointStore, webhook.Idempotency,
// webhook.DeliveryLog, delivery.Settler and delivery.Limiter on DynamoDB.
// It is safe for concurrent use.
type Store struct {
	api    API
	tables Tables
	opts   Options

	mu      sync.Mutex
	windows map[string]*window // rate-limit tokens reserved by this Store
}

// New returns a Store using api and the named tables.
func New(api API, tables Tables, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.KeyTTL <= 0 {
		opts.KeyTTL = DefaultKeyTTL
	}
	return &Store{api: api, tables: tables, opts: opts, windows: map[string]*window{}}
}

func (s *Store) now() time.Time { return s.opts.Now() }

// sameItem reports whether keys and delivery logs share a table, so a key
// named like a delivery id is the same item as that delivery's log.
func (s *Store) sameItem() bool { return s.tables.Keys == s.tables.Deliveries }

// Names shared with the infrastructure code.
const (
	// HashKey is the partition key (type S) of every table.
	HashKey = "id"
	// TTLAttribute is the TTL attribute (epoch seconds) of the Keys,
	// Deliveries and RateLimits tables.
	TTLAttribute = "expires_at"
	// IndexByEndpoint is the Deliveries table's GSI listing an endpoint's
	// deliveries: partition endpoint_id (S), sort created_at (N, Unix ns),
	// keys only.
	IndexByEndpoint = "by_endpoint"
)

// Schema describes one table: how to create it and which attribute, if
// any, DynamoDB TTL must be enabled on.
type Schema struct {
	Table        dynamodb.CreateTableInput
	TTLAttribute string // "" for no TTL
}

// Schemas returns the tables t names, once each (Keys and Deliveries may be
// one table), on-demand billing. The infrastructure code and the tests both
// build their tables from it.
func Schemas(t Tables) []Schema {
	hash := func(name string) dynamodb.CreateTableInput {
		return dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(HashKey), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(HashKey), KeyType: types.KeyTypeHash}},
		}
	}
	deliveries := hash(t.Deliveries)
	deliveries.AttributeDefinitions = append(deliveries.AttributeDefinitions,
		types.AttributeDefinition{AttributeName: aws.String(attrEndpointID), AttributeType: types.ScalarAttributeTypeS},
		types.AttributeDefinition{AttributeName: aws.String(attrCreatedAt), AttributeType: types.ScalarAttributeTypeN})
	deliveries.GlobalSecondaryIndexes = []types.GlobalSecondaryIndex{{
		IndexName: aws.String(IndexByEndpoint),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrEndpointID), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrCreatedAt), KeyType: types.KeyTypeRange},
		},
		// Keys only: an update that doesn't change the index keys (every
		// write after a delivery's first) then costs no index write.
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
	}}
	out := []Schema{{Table: hash(t.Endpoints)}, {Table: deliveries, TTLAttribute: TTLAttribute}}
	if t.Keys != t.Deliveries {
		out = append(out, Schema{Table: hash(t.Keys), TTLAttribute: TTLAttribute})
	}
	return append(out, Schema{Table: hash(t.RateLimits), TTLAttribute: TTLAttribute})
}

// TableAPI is the part of the DynamoDB client CreateTables calls.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTables creates the tables of Schemas(t), waits for each to be
// active and enables its TTL: for tests and local tools (on AWS the stack
// creates them).
func CreateTables(ctx context.Context, api TableAPI, t Tables) error {
	for _, sc := range Schemas(t) {
		in := sc.Table
		name := aws.ToString(in.TableName)
		if _, err := api.CreateTable(ctx, &in); err != nil {
			return fmt.Errorf("dynamo: create table %s: %w", name, err)
		}
		w := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 5*time.Minute); err != nil {
			return fmt.Errorf("dynamo: wait for table %s: %w", name, err)
		}
		if sc.TTLAttribute == "" {
			continue
		}
		_, err := api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               in.TableName,
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(sc.TTLAttribute), Enabled: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("dynamo: enable TTL on %s: %w", name, err)
		}
	}
	return nil
}

// --- errors ---

// conditionFailed returns the item as it was (nil if absent or not
// returned) when err is a ConditionalCheckFailedException.
func conditionFailed(err error) (old item, ok bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// transient wraps an API error: every failure of the service (throttling,
// a missing table, a 5xx, a network error) is worth retrying later.
func transient(err error, format string, args ...any) error {
	return webhook.Transient(err, "dynamo: "+format, args...)
}

// --- attribute values ---

type item = map[string]types.AttributeValue

func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func avB(v []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: v} }
func avBool(v bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: v}
}

func key(id string) item { return item{HashKey: avS(id)} }

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) (int64, bool) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		// Written by something else (a float?): read what we can.
		f, ferr := strconv.ParseFloat(v.Value, 64)
		if ferr != nil {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

func getBool(it item, name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func has(it item, name string) bool { _, ok := it[name]; return ok }

// Times are stored as Unix nanoseconds (N), which sort like the times and
// keep every digit. The zero time is math.MinInt64; other times outside
// what UnixNano can hold (before 1678, after 2262) are clamped.
var (
	minNanoTime = time.Unix(0, math.MinInt64+1)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return math.MinInt64
	case t.Before(minNanoTime):
		return math.MinInt64 + 1
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(v int64) time.Time {
	if v == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// epochSeconds rounds t up to whole seconds, for the TTL attribute.
func epochSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// --- expressions ---

// expr builds an UpdateItem's expressions. Attribute names are written as
// #name and mapped to name; values are :name. Only the names and values
// the expressions use are sent (DynamoDB rejects unused ones).
type expr struct {
	set, remove, add []string
	cond             []string // ANDed
	vals             map[string]types.AttributeValue
}

func newExpr() *expr { return &expr{vals: map[string]types.AttributeValue{}} }

func (e *expr) val(name string, v types.AttributeValue) *expr { e.vals[name] = v; return e }

var (
	namePattern  = regexp.MustCompile(`#[A-Za-z0-9_]+`)
	valuePattern = regexp.MustCompile(`:[A-Za-z0-9_]+`)
)

func (e *expr) update() string {
	var parts []string
	if len(e.set) > 0 {
		parts = append(parts, "SET "+strings.Join(e.set, ", "))
	}
	if len(e.remove) > 0 {
		parts = append(parts, "REMOVE "+strings.Join(e.remove, ", "))
	}
	if len(e.add) > 0 {
		parts = append(parts, "ADD "+strings.Join(e.add, ", "))
	}
	return strings.Join(parts, " ")
}

func (e *expr) condition() string {
	if len(e.cond) == 0 {
		return ""
	}
	return "(" + strings.Join(e.cond, ") AND (") + ")"
}

// placeholders returns the names and values used by exprs.
func (e *expr) placeholders(exprs ...string) (map[string]string, map[string]types.AttributeValue) {
	all := strings.Join(exprs, " ")
	names := map[string]string{}
	for _, n := range namePattern.FindAllString(all, -1) {
		names[n] = n[1:]
	}
	vals := map[string]types.AttributeValue{}
	for _, v := range valuePattern.FindAllString(all, -1) {
		if av, ok := e.vals[v]; ok {
			vals[v] = av
		}
	}
	if len(names) == 0 {
		names = nil
	}
	if len(vals) == 0 {
		vals = nil
	}
	return names, vals
}

// updateInput returns the UpdateItem call; on a failed condition the
// service returns the item as it was.
func (e *expr) updateInput(table string, k item) *dynamodb.UpdateItemInput {
	upd, cond := e.update(), e.condition()
	names, vals := e.placeholders(upd, cond)
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(table),
		Key:                                 k,
		UpdateExpression:                    aws.String(upd),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           vals,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	return in
}

// sameAs returns a condition that attribute name still holds what it held
// in old (or is still absent), for optimistic writes based on a snapshot.
func (e *expr) sameAs(old item, name string) string {
	v, ok := old[name]
	if !ok {
		return "attribute_not_exists(#" + name + ")"
	}
	e.val(":old_"+name, v)
	return "#" + name + " = :old_" + name
}

// getItem reads one item with a strongly consistent read (nil if absent).
func (s *Store) getItem(ctx context.Context, table, id string) (item, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}
