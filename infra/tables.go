package main

import (
	"fmt"
	"reflect"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/phoneshield/webhooks/shared/dynamo"
)

// Tables are the stack's DynamoDB tables. Keys and deliveries share one
// table, as package dynamo recommends (a delivery then costs two writes).
type Tables struct {
	Endpoints, Deliveries, RateLimits awsdynamodb.Table
}

// tableIDs name the tables for dynamo.Schemas; they become construct ids
// (CloudFormation names the tables).
var tableIDs = dynamo.Tables{Endpoints: "Endpoints", Keys: "Deliveries", Deliveries: "Deliveries", RateLimits: "RateLimits"}

// newTables creates the tables dynamo.Schemas describes: on demand, point
// in time recovery, encrypted with the AWS managed key, TTL where the
// schema has one. In production they survive the stack's deletion and
// are protected from deletion.
func newTables(scope constructs.Construct, production bool) Tables {
	made := map[string]awsdynamodb.Table{}
	for _, sc := range dynamo.Schemas(tableIDs) {
		made[aws.ToString(sc.Table.TableName)] = newTable(scope, sc, production)
	}
	return Tables{Endpoints: made[tableIDs.Endpoints], Deliveries: made[tableIDs.Deliveries], RateLimits: made[tableIDs.RateLimits]}
}

// newTable translates one schema. Anything in it this function does not
// know how to build panics, so a change to the schema can't be silently
// left out of the stack.
func newTable(scope constructs.Construct, sc dynamo.Schema, production bool) awsdynamodb.Table {
	in := sc.Table
	id := aws.ToString(in.TableName)
	rest := in
	rest.TableName, rest.AttributeDefinitions, rest.KeySchema, rest.GlobalSecondaryIndexes = nil, nil, nil, nil
	rest.BillingMode = ""
	if in.BillingMode != types.BillingModePayPerRequest || !reflect.DeepEqual(rest, dynamodb.CreateTableInput{}) {
		panic(fmt.Sprintf("infra: dynamo.Schemas table %s has settings the stack does not translate: %+v", id, rest))
	}
	attrs := map[string]awsdynamodb.AttributeType{}
	for _, a := range in.AttributeDefinitions {
		attrs[aws.ToString(a.AttributeName)] = attributeType(a.AttributeType)
	}
	pk, sk := keys(in.KeySchema, attrs)
	props := &awsdynamodb.TableProps{
		PartitionKey: pk,
		SortKey:      sk,
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		// Endpoint secrets live in the endpoints table: encrypted at rest
		// with the AWS managed key; access is by IAM.
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		DeletionProtection: jsii.Bool(production),
		RemovalPolicy:      removalPolicy(production),
	}
	if sc.TTLAttribute != "" {
		props.TimeToLiveAttribute = jsii.String(sc.TTLAttribute)
	}
	t := awsdynamodb.NewTable(scope, jsii.String(id), props)
	for _, g := range in.GlobalSecondaryIndexes {
		if g.OnDemandThroughput != nil || g.ProvisionedThroughput != nil || g.WarmThroughput != nil || g.Projection == nil {
			panic(fmt.Sprintf("infra: index %s of %s has settings the stack does not translate", aws.ToString(g.IndexName), id))
		}
		gpk, gsk := keys(g.KeySchema, attrs)
		gp := &awsdynamodb.GlobalSecondaryIndexProps{IndexName: g.IndexName, PartitionKey: gpk, SortKey: gsk}
		switch g.Projection.ProjectionType {
		case types.ProjectionTypeKeysOnly:
			gp.ProjectionType = awsdynamodb.ProjectionType_KEYS_ONLY
		case types.ProjectionTypeAll:
			gp.ProjectionType = awsdynamodb.ProjectionType_ALL
		case types.ProjectionTypeInclude:
			gp.ProjectionType = awsdynamodb.ProjectionType_INCLUDE
			gp.NonKeyAttributes = jsii.Strings(g.Projection.NonKeyAttributes...)
		default:
			panic(fmt.Sprintf("infra: index %s of %s: projection %q", aws.ToString(g.IndexName), id, g.Projection.ProjectionType))
		}
		t.AddGlobalSecondaryIndex(gp)
	}
	return t
}

func keys(ks []types.KeySchemaElement, attrs map[string]awsdynamodb.AttributeType) (pk, sk *awsdynamodb.Attribute) {
	for _, k := range ks {
		name := aws.ToString(k.AttributeName)
		typ, ok := attrs[name]
		if !ok {
			panic(fmt.Sprintf("infra: key attribute %s has no definition", name))
		}
		a := &awsdynamodb.Attribute{Name: jsii.String(name), Type: typ}
		switch k.KeyType {
		case types.KeyTypeHash:
			pk = a
		case types.KeyTypeRange:
			sk = a
		}
	}
	return pk, sk
}

func attributeType(t types.ScalarAttributeType) awsdynamodb.AttributeType {
	switch t {
	case types.ScalarAttributeTypeS:
		return awsdynamodb.AttributeType_STRING
	case types.ScalarAttributeTypeN:
		return awsdynamodb.AttributeType_NUMBER
	case types.ScalarAttributeTypeB:
		return awsdynamodb.AttributeType_BINARY
	}
	panic(fmt.Sprintf("infra: attribute type %q", t))
}
