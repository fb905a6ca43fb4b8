package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/phoneshield/webhooks/shared/dynamo"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// The IAM of the functions, action by action, from the SDK calls their
// adapters make (package dynamo, sqs, provision). Grant helpers such as
// table.GrantReadData are not used: they add actions nobody calls.
//
// Resource wildcards, each written once below with its reason:
//   - <prefix>* queues: endpoint queues are created at run time, one per
//     endpoint; the stack-specific prefix is the narrowest name that
//     covers them (filter, deliver, management).
//   - sqs:ListQueues, lambda:CreateEventSourceMapping and
//     lambda:ListEventSourceMappings support no resource-level
//     permissions: "*" (the first two narrowed by a condition where AWS
//     offers one).
//   - event-source-mapping:* : mappings are created at run time with
//     AWS-generated UUIDs; narrowed to the deliver function by the
//     lambda:FunctionArn condition.

// prefixQueuesArn is the ARN pattern of every endpoint queue of the stack:
// <prefix>whk_*, which no other stack's queue matches, even one whose
// stack name extends this one's ("x" and "x-ep-y": "x-ep-y-ep-whk_a" is
// not "x-ep-whk_…"), as stack names can't hold "_".
func (s *Stack) prefixQueuesArn() string {
	return *s.Stack.FormatArn(&awscdk.ArnComponents{
		Service:   jsii.String("sqs"),
		Resource:  jsii.String(s.queueWildcard()),
		ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME,
	})
}

// nagQueueWildcard is how cdk-nag names the prefix wildcard in findings.
func (s *Stack) nagQueueWildcard() string {
	return "Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:" + s.queueWildcard()
}

// queueWildcard is the queue-name pattern of the stack's endpoint queues.
func (s *Stack) queueWildcard() string { return QueueWildcard(s.QueuePrefix) }

// QueueWildcard is the IAM queue-name pattern of the endpoint queues under
// a queue prefix.
func QueueWildcard(prefix string) string { return prefix + webhook.EndpointIDPrefix + "*" }

const reasonQueuePrefix = "Endpoint queues are created at run time, one per endpoint, named <stack prefix><endpoint id>: the stack-specific <prefix>whk_* wildcard is the narrowest ARN that covers them."

// grantFilter: the filter lists endpoints (a Scan, cached), takes the
// event's idempotency key in the deliveries table (UpdateItem; GetItem
// when a failed condition returns no item), enqueues tasks on endpoint
// queues (SendMessageBatch is authorized as SendMessage; GetQueueUrl once
// per queue) and dead-letters poison events to the shared DLQ.
func grantFilter(s *Stack, role awsiam.IRole) {
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:Scan"}, *s.Tables.Endpoints.TableArn()))
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, *s.Tables.Deliveries.TableArn()))
	role.AddToPrincipalPolicy(allow([]string{"sqs:SendMessage", "sqs:GetQueueUrl"}, s.prefixQueuesArn()))
	role.AddToPrincipalPolicy(allow([]string{"sqs:SendMessage"}, *s.DLQ.QueueArn()))
	suppress(role, "AwsSolutions-IAM5", reasonQueuePrefix, s.nagQueueWildcard())
}

// grantDeliver: the deliverer reads the endpoint (GetItem), acquires,
// settles and logs the delivery (UpdateItem; GetItem as the fallback of
// a failed condition), reserves rate-limit tokens (UpdateItem), puts
// retries back on the endpoint's queue (SendMessage, GetQueueUrl) and
// dead-letters to the DLQ. Its event source mappings poll the endpoint
// queues with the function's role: ReceiveMessage, DeleteMessage,
// GetQueueAttributes.
func grantDeliver(s *Stack, role awsiam.IRole) {
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:GetItem"}, *s.Tables.Endpoints.TableArn()))
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:GetItem", "dynamodb:UpdateItem"}, *s.Tables.Deliveries.TableArn()))
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:UpdateItem"}, *s.Tables.RateLimits.TableArn()))
	role.AddToPrincipalPolicy(allow([]string{
		"sqs:SendMessage", "sqs:GetQueueUrl",
		"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
	}, s.prefixQueuesArn()))
	role.AddToPrincipalPolicy(allow([]string{"sqs:SendMessage"}, *s.DLQ.QueueArn()))
	suppress(role, "AwsSolutions-IAM5", reasonQueuePrefix, s.nagQueueWildcard())
}

// grantManagement: the management API's endpoint CRUD (conditional
// PutItem, GetItem, DeleteItem, Scan), delivery log reads (Query on the
// by_endpoint index, BatchGetItem and GetItem on the table), the DLQ's
// list, redrive and purge, and the control plane (package provision):
// each endpoint's queue and its event source mapping to the deliver
// function. Test events are one HTTP attempt and touch no store.
func grantManagement(s *Stack, role awsiam.IRole) {
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"},
		*s.Tables.Endpoints.TableArn()))
	role.AddToPrincipalPolicy(allow([]string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"},
		*s.Tables.Deliveries.TableArn(), *s.Tables.Deliveries.TableArn()+"/index/"+dynamo.IndexByEndpoint))
	// Listing, counting, redriving and purging dead letters: receive with
	// a short visibility ("peek"), make visible again, delete.
	role.AddToPrincipalPolicy(allow([]string{
		"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
	}, *s.DLQ.QueueArn()))
	// The control plane creates, repairs and deletes endpoint queues;
	// redriven dead letters are sent back to them.
	role.AddToPrincipalPolicy(allow([]string{
		"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
		"sqs:SendMessage",
	}, s.prefixQueuesArn()))
	// ListQueues has no resource-level permissions: it can only list the
	// caller's own account and region, and the Provisioner always passes
	// QueueNamePrefix.
	role.AddToPrincipalPolicy(allow([]string{"sqs:ListQueues"}, "*"))

	deliverArn := *s.Deliver.FunctionArn()
	onlyDeliver := &map[string]interface{}{"ArnEquals": map[string]interface{}{"lambda:FunctionArn": deliverArn}}
	// CreateEventSourceMapping supports no resource type (the queue is
	// not a resource of the call): "*", held to the deliver function by
	// the lambda:FunctionArn condition.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("lambda:CreateEventSourceMapping"),
		Resources:  jsii.Strings("*"),
		Conditions: onlyDeliver,
	}))
	// Mappings have AWS-generated UUIDs, known only at run time: any
	// mapping of this account and region, held to the deliver function's
	// by the same condition.
	mappings := *s.Stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("lambda"), Resource: jsii.String("event-source-mapping"), ResourceName: jsii.String("*"),
		ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"),
		Resources:  jsii.Strings(mappings),
		Conditions: onlyDeliver,
	}))
	// ListEventSourceMappings has no resource-level permissions; it
	// returns configuration only.
	role.AddToPrincipalPolicy(allow([]string{"lambda:ListEventSourceMappings"}, "*"))

	cdkNagSuppressManagement(s, role)
}

func cdkNagSuppressManagement(s *Stack, role awsiam.IRole) {
	suppress(role, "AwsSolutions-IAM5", reasonQueuePrefix, s.nagQueueWildcard())
	suppress(role, "AwsSolutions-IAM5",
		"sqs:ListQueues, lambda:CreateEventSourceMapping and lambda:ListEventSourceMappings support no resource-level permissions (Resource must be *); CreateEventSourceMapping is held to the deliver function by a lambda:FunctionArn condition.",
		"Resource::*")
	suppress(role, "AwsSolutions-IAM5",
		"Event source mappings get AWS-generated UUIDs at run time; Update/DeleteEventSourceMapping are held to the deliver function's mappings by a lambda:FunctionArn condition.",
		"Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:event-source-mapping:*")
}
