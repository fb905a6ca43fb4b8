package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Endpoint item attributes.
const (
	attrVersion = "version" // N, for the conditional writes
	attrDoc     = "doc"     // S, the endpoint as JSON
)

// endpointDoc is an endpoint as stored: the domain JSON, except that Filter
// is kept byte for byte (encoding/json would compact a RawMessage).
type endpointDoc struct {
	*webhook.Endpoint
	Filter []byte `json:"filter,omitempty"`
}

func endpointItem(e *webhook.Endpoint) (item, error) {
	doc, err := json.Marshal(endpointDoc{Endpoint: e, Filter: e.Filter})
	if err != nil {
		return nil, err
	}
	return item{HashKey: avS(e.ID), attrVersion: avN(e.Version), attrDoc: avS(string(doc))}, nil
}

func decodeEndpoint(it item) (*webhook.Endpoint, error) {
	d := endpointDoc{Endpoint: new(webhook.Endpoint)}
	if err := json.Unmarshal([]byte(getS(it, attrDoc)), &d); err != nil {
		return nil, fmt.Errorf("decode endpoint %s: %w", getS(it, HashKey), err)
	}
	d.Endpoint.Filter = d.Filter
	return d.Endpoint, nil
}

// CreateEndpoint implements webhook.EndpointStore: one conditional PutItem.
func (s *Store) CreateEndpoint(ctx context.Context, e *webhook.Endpoint) error {
	if e.ID == "" {
		return fmt.Errorf("dynamo: create endpoint: %w", webhook.Invalid("id", "required"))
	}
	it, err := endpointItem(e)
	if err != nil {
		return fmt.Errorf("dynamo: create endpoint %s: %w", e.ID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.tables.Endpoints),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": HashKey},
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("dynamo: create endpoint %s: id in use: %w", e.ID, webhook.ErrConflict)
	}
	if err != nil {
		return transient(err, "create endpoint %s", e.ID)
	}
	return nil
}

// GetEndpoint implements webhook.EndpointStore: one strongly consistent
// GetItem.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*webhook.Endpoint, error) {
	if id == "" {
		return nil, fmt.Errorf("dynamo: get endpoint: %w", webhook.ErrNotFound)
	}
	it, err := s.getItem(ctx, s.tables.Endpoints, id)
	if err != nil {
		return nil, transient(err, "get endpoint %s", id)
	}
	if it == nil {
		return nil, fmt.Errorf("dynamo: get endpoint %s: %w", id, webhook.ErrNotFound)
	}
	e, err := decodeEndpoint(it)
	if err != nil {
		return nil, fmt.Errorf("dynamo: get endpoint: %w", err)
	}
	return e, nil
}

// ListEndpoints implements webhook.EndpointStore: a consistent Scan of
// every page, sorted in memory (a deployment has at most 50 endpoints).
func (s *Store) ListEndpoints(ctx context.Context) ([]*webhook.Endpoint, error) {
	var (
		es    []*webhook.Endpoint
		start item
	)
	for {
		out, err := s.api.Scan(ctx, &dynamodb.ScanInput{
			TableName:         aws.String(s.tables.Endpoints),
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, transient(err, "list endpoints")
		}
		for _, it := range out.Items {
			e, err := decodeEndpoint(it)
			if err != nil {
				return nil, fmt.Errorf("dynamo: list endpoints: %w", err)
			}
			es = append(es, e)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	slices.SortFunc(es, func(a, b *webhook.Endpoint) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return es, nil
}

// UpdateEndpoint implements webhook.EndpointStore: one PutItem conditioned
// on the stored version being e.Version-1. When it fails, the item as it
// was tells a missing endpoint (ErrNotFound) from a lost race (ErrConflict).
func (s *Store) UpdateEndpoint(ctx context.Context, e *webhook.Endpoint) error {
	if e.ID == "" {
		return fmt.Errorf("dynamo: update endpoint: %w", webhook.Invalid("id", "required"))
	}
	it, err := endpointItem(e)
	if err != nil {
		return fmt.Errorf("dynamo: update endpoint %s: %w", e.ID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.tables.Endpoints),
		Item:                                it,
		ConditionExpression:                 aws.String("#version = :prev"),
		ExpressionAttributeNames:            map[string]string{"#version": attrVersion},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":prev": avN(e.Version - 1)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		if old == nil {
			return fmt.Errorf("dynamo: update endpoint %s: %w", e.ID, webhook.ErrNotFound)
		}
		v, _ := getN(old, attrVersion)
		return fmt.Errorf("dynamo: update endpoint %s to version %d: stored version is %d: %w", e.ID, e.Version, v, webhook.ErrConflict)
	}
	if err != nil {
		return transient(err, "update endpoint %s", e.ID)
	}
	return nil
}

// DeleteEndpoint implements webhook.EndpointStore: one conditional
// DeleteItem.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("dynamo: delete endpoint: %w", webhook.ErrNotFound)
	}
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.tables.Endpoints),
		Key:                      key(id),
		ConditionExpression:      aws.String("attribute_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": HashKey},
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("dynamo: delete endpoint %s: %w", id, webhook.ErrNotFound)
	}
	if err != nil {
		return transient(err, "delete endpoint %s", id)
	}
	return nil
}
