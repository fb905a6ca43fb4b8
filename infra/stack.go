package main

import (
	"fmt"
	"maps"
	"regexp"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/provision"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Assets are the folders holding each function's bootstrap.
type Assets struct {
	Filter, Deliver string
	// API is the management function's folder; "" leaves the management
	// API out of the stack (until functions/api exists).
	API string
}

// StackProps configure NewStack.
type StackProps struct {
	awscdk.StackProps
	Params Params
	Assets Assets
}

// Function sizing. The deliver timeout is what provision's default queue
// visibility timeout (six times the function's timeout) assumes: 60 s
// covers a batch of ten attempts of at most 10 s each, run concurrently,
// with the lease and log writes around them.
var (
	deliverTimeout = provision.DefaultVisibilityTimeout / 6
	filterTimeout  = 30 * time.Second
	apiTimeout     = 29 * time.Second // API Gateway's integration limit
)

const (
	filterMemoryMB  = 256 // matching and a few SQS batches per event
	deliverMemoryMB = 512 // TLS handshakes and rendering up to 1 MB bodies, ten at a time
	apiMemoryMB     = 256
)

// filterConcurrency is the filter's reserved concurrency per plan: a
// burst of events cannot take the account's whole concurrency (throttled
// asynchronous invocations are retried by Lambda for up to MaxEventAge,
// not lost), and the filter keeps this much even when other functions
// are busy.
var filterConcurrency = map[string]int{"standard": 5, "business": 10, "enterprise": 25}

// deliverConcurrency is the deliver function's reserved concurrency: every
// endpoint queue's event source mapping may run provision.DefaultMaxConcurrency
// instances at once, so the plan's endpoint limit times that is all it
// can use; reserving it guarantees it and caps the function there.
func deliverConcurrency(p webhook.Plan) int { return p.MaxEndpoints * mappingConcurrency }

// mappingConcurrency is each endpoint queue's event source mapping's
// MaximumConcurrency (PS_MAX_CONCURRENCY of the management function).
const mappingConcurrency = provision.DefaultMaxConcurrency

const apiConcurrency = 5 // the management API is operator traffic

// QueuePrefix returns the prefix of the endpoint queues of stack
// stackName: stack names are unique per account and region, so two
// deployments never share queues or the IAM scope of them.
func QueuePrefix(stackName string) string {
	s := regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(stackName, "-")
	if len(s) > 40 { // leaves room for "-ep-" and an endpoint id in SQS's 80
		s = s[:40]
	}
	return s + "-ep-"
}

// Stack holds the constructs tests and outputs refer to.
type Stack struct {
	awscdk.Stack
	Params      Params
	QueuePrefix string
	Tables      Tables
	DLQ         awssqs.Queue
	EventsDLQ   awssqs.Queue
	Bus         awsevents.EventBus
	Filter      awslambda.Function
	Deliver     awslambda.Function
	API         awslambda.Function // nil without the management API
}

// NewStack defines the whole deployment.
func NewStack(scope constructs.Construct, id string, props *StackProps) *Stack {
	sprops := props.StackProps
	if sprops.Description == nil {
		sprops.Description = jsii.String("PhoneShield Webhooks: EventBridge bus, filter and delivery Lambdas, per-endpoint SQS queues (created at run time), DynamoDB, DLQ, alarms")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)
	p := props.Params
	s := &Stack{Stack: stack, Params: p, QueuePrefix: QueuePrefix(*stack.StackName())}
	if name := *stack.StackName(); len(name) > 40 {
		// Kept as is: a new prefix would leave a deployed stack's queues
		// behind, out of its functions' IAM scope.
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("@phoneshield/queue-prefix"), jsii.String(
			"stack name over 40 characters: its endpoint queues' prefix "+s.QueuePrefix+" is cut from it, and another stack of this account and region whose name starts with the same 40 characters would share it; use a shorter name"), nil)
	}
	production := p.Environment == EnvProduction

	s.Tables = newTables(stack, production)

	// The shared DLQ: deliveries whose last attempt failed, poison input,
	// and (through each endpoint queue's redrive policy) messages that
	// crashed the function too often. Receive wait 0: the SQS adapter
	// relies on the queue's defaults (the SDK never sends an int32 zero).
	s.DLQ = awssqs.NewQueue(stack, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		Encryption:             awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:             jsii.Bool(true),
		RetentionPeriod:        awscdk.Duration_Days(jsii.Number(14)),
		ReceiveMessageWaitTime: awscdk.Duration_Seconds(jsii.Number(0)),
		RemovalPolicy:          removalPolicy(production),
	})
	suppress(s.DLQ, "AwsSolutions-SQS3", "This is the dead-letter queue: the per-endpoint queues, created at run time by the control plane, name it in their redrive policy.")

	// Events the filter could not take: EventBridge's target DLQ (the
	// invocation failed past the retry policy) and the function's own
	// asynchronous DLQ (it failed past Lambda's retries).
	s.EventsDLQ = awssqs.NewQueue(stack, jsii.String("EventsDeadLetterQueue"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		RemovalPolicy:   removalPolicy(production),
	})
	suppress(s.EventsDLQ, "AwsSolutions-SQS3", "This is a dead-letter queue: the EventBridge rule target's and the filter function's asynchronous-invocation DLQ.")

	cfg := awsapp.Config{
		Plan:             p.Plan,
		EndpointsTable:   *s.Tables.Endpoints.TableName(),
		DeliveriesTable:  *s.Tables.Deliveries.TableName(),
		RateLimitsTable:  *s.Tables.RateLimits.TableName(),
		QueuePrefix:      s.QueuePrefix,
		DLQURL:           *s.DLQ.QueueUrl(),
		LogTTL:           time.Duration(p.DeliveryLogTTLDays) * 24 * time.Hour,
		EndpointCacheTTL: awsapp.DefaultEndpointCacheTTL,
		AllowHTTP:        p.Environment == EnvSandbox,
	}
	env := cfg.Env()

	var egress *Egress
	if p.StaticEgressIPs {
		egress = newEgress(stack, p)
	}

	// The filter: EventBridge invokes it asynchronously.
	s.Filter = newFunction(stack, "Filter", functionSpec{
		asset: props.Assets.Filter, memoryMB: filterMemoryMB, timeout: filterTimeout,
		concurrency: filterConcurrency[p.Plan.Name], env: env, params: p, production: production,
		description: "PhoneShield Webhooks: matches each event against the endpoints and enqueues deliveries",
		tweak: func(fp *awslambda.FunctionProps) {
			fp.RetryAttempts = jsii.Number(2)
			fp.MaxEventAge = awscdk.Duration_Hours(jsii.Number(6))
			fp.DeadLetterQueue = s.EventsDLQ
		},
	})
	grantFilter(s, s.Filter.Role())

	// The deliverer: the SQS event source of every endpoint queue.
	s.Deliver = newFunction(stack, "Deliver", functionSpec{
		asset: props.Assets.Deliver, memoryMB: deliverMemoryMB, timeout: deliverTimeout,
		concurrency: deliverConcurrency(p.Plan), env: env, params: p, production: production,
		description: "PhoneShield Webhooks: signs and POSTs each delivery, logs the attempt, schedules the retry or dead-letters it",
		tweak: func(fp *awslambda.FunctionProps) {
			// Retries go back to the queue the function reads: a loop by
			// design (at most six attempts, plus hops for delays beyond
			// SQS's 15 minutes and rate-limit deferrals), which Lambda's
			// loop detection would otherwise cut after 16 hops.
			fp.RecursiveLoop = awslambda.RecursiveLoop_ALLOW
			if egress != nil {
				egress.place(fp)
			}
		},
	})
	grantDeliver(s, s.Deliver.Role())
	if egress != nil {
		egress.grant(s, s.Deliver.Role())
	}

	// The bus, its archive (replay) and the rule to the filter.
	s.Bus = awsevents.NewEventBus(stack, jsii.String("Bus"), &awsevents.EventBusProps{
		Description: jsii.String("PhoneShield events (source phoneshield) for webhook delivery"),
	})
	pattern := &awsevents.EventPattern{Source: jsii.Strings(webhook.Source)}
	archive := &awsevents.BaseArchiveProps{
		EventPattern: pattern,
		Description:  jsii.String("Every PhoneShield event, for replay"),
	}
	if p.ArchiveRetentionDays > 0 {
		archive.Retention = awscdk.Duration_Days(jsii.Number(float64(p.ArchiveRetentionDays)))
	}
	s.Bus.Archive(jsii.String("Archive"), archive)
	rule := awsevents.NewRule(stack, jsii.String("ToFilter"), &awsevents.RuleProps{
		EventBus:     s.Bus,
		EventPattern: pattern,
		Description:  jsii.String("PhoneShield events to the filter Lambda"),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(s.Filter, &awseventstargets.LambdaFunctionProps{
			// EventBridge retries an invocation it could not make
			// (throttling, service errors) for up to a day, the most it
			// allows, then sends the event to the events DLQ.
			RetryAttempts:   jsii.Number(185),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
			DeadLetterQueue: s.EventsDLQ,
		})},
	})

	var api *managementAPI
	if props.Assets.API != "" {
		// The management function also runs the control plane.
		mcfg := cfg
		mcfg.DLQARN, mcfg.DeliverFunction, mcfg.MaxConcurrency = *s.DLQ.QueueArn(), *s.Deliver.FunctionName(), mappingConcurrency
		menv := mcfg.Env()
		maps.Copy(menv, mcfg.ControlPlaneEnv())
		api = newManagementAPI(s, props.Assets.API, menv, egress)
	}

	newMonitoring(s, rule, api)

	out := func(id, value, desc string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(desc)})
	}
	out("EventBusName", *s.Bus.EventBusName(), "PutEvents here (Source phoneshield)")
	out("EventBusArn", *s.Bus.EventBusArn(), "the bus's ARN, for producers' IAM policies")
	out("EndpointsTableName", *s.Tables.Endpoints.TableName(), "DynamoDB: endpoint configurations")
	out("DeliveriesTableName", *s.Tables.Deliveries.TableName(), "DynamoDB: delivery log and idempotency keys")
	out("RateLimitsTableName", *s.Tables.RateLimits.TableName(), "DynamoDB: rate-limit windows")
	out("DeadLetterQueueUrl", *s.DLQ.QueueUrl(), "the shared DLQ")
	out("EventsDeadLetterQueueUrl", *s.EventsDLQ.QueueUrl(), "events the filter could not take")
	out("QueuePrefix", s.QueuePrefix, "endpoint queues are <prefix><endpoint id>")
	out("DeliverFunctionName", *s.Deliver.FunctionName(), "target of every endpoint queue's event source mapping")
	if api != nil {
		out("ApiUrl", *api.http.ApiEndpoint(), "management API (IAM auth, SigV4 service execute-api)")
	}
	if egress != nil {
		for i, eip := range egress.eips {
			out(fmt.Sprintf("EgressIp%d", i+1), *eip.AttrPublicIp(), "deliveries come from this address; allow-list it at receivers")
		}
	}
	return s
}

func removalPolicy(production bool) awscdk.RemovalPolicy {
	if production {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// functionSpec describes one Lambda.
type functionSpec struct {
	asset       string
	memoryMB    int
	timeout     time.Duration
	concurrency int
	env         map[string]string
	params      Params
	production  bool
	description string
	tweak       func(*awslambda.FunctionProps)
}

// newFunction makes an arm64 provided.al2023 function with its own role
// (no managed policies: only the statements the grant functions add) and
// its own log group with the configured retention.
func newFunction(scope constructs.Construct, id string, spec functionSpec) awslambda.Function {
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     retention(spec.params.LogRetentionDays),
		RemovalPolicy: removalPolicy(spec.production),
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the " + id + " function"),
	})
	// Lambda writes to streams it names at run time: the log group's ARN
	// (which CloudFormation returns ending in ":*") covers its streams only.
	role.AddToPrincipalPolicy(allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, *logs.LogGroupArn()))
	env := map[string]*string{}
	for k, v := range spec.env {
		env[k] = jsii.String(v)
	}
	fp := &awslambda.FunctionProps{
		Runtime:                      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:                 awslambda.Architecture_ARM_64(),
		Handler:                      jsii.String("bootstrap"),
		Code:                         awslambda.Code_FromAsset(jsii.String(spec.asset), nil),
		MemorySize:                   jsii.Number(float64(spec.memoryMB)),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(spec.timeout.Seconds())),
		ReservedConcurrentExecutions: jsii.Number(float64(spec.concurrency)),
		Environment:                  &env,
		Role:                         role,
		LogGroup:                     logs,
		Description:                  jsii.String(spec.description),
	}
	if spec.tweak != nil {
		spec.tweak(fp)
	}
	return awslambda.NewFunction(scope, jsii.String(id), fp)
}

// retention maps a number of days CloudWatch Logs accepts (checked by
// ParamsFromContext) to the CDK enum, which lists them in the same order.
func retention(days int) awslogs.RetentionDays {
	enum := []awslogs.RetentionDays{
		awslogs.RetentionDays_ONE_DAY, awslogs.RetentionDays_THREE_DAYS, awslogs.RetentionDays_FIVE_DAYS,
		awslogs.RetentionDays_ONE_WEEK, awslogs.RetentionDays_TWO_WEEKS, awslogs.RetentionDays_ONE_MONTH,
		awslogs.RetentionDays_TWO_MONTHS, awslogs.RetentionDays_THREE_MONTHS, awslogs.RetentionDays_FOUR_MONTHS,
		awslogs.RetentionDays_FIVE_MONTHS, awslogs.RetentionDays_SIX_MONTHS, awslogs.RetentionDays_ONE_YEAR,
		awslogs.RetentionDays_THIRTEEN_MONTHS, awslogs.RetentionDays_EIGHTEEN_MONTHS, awslogs.RetentionDays_TWO_YEARS,
		awslogs.RetentionDays_THREE_YEARS, awslogs.RetentionDays_FIVE_YEARS, awslogs.RetentionDays_SIX_YEARS,
		awslogs.RetentionDays_SEVEN_YEARS, awslogs.RetentionDays_EIGHT_YEARS, awslogs.RetentionDays_NINE_YEARS,
		awslogs.RetentionDays_TEN_YEARS,
	}
	for i, d := range logRetentionDays {
		if d == days {
			return enum[i]
		}
	}
	panic(fmt.Sprintf("log retention of %d days is not one CloudWatch Logs accepts", days))
}

// allow returns an Allow statement.
func allow(actions []string, resources ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	})
}

// suppress records a justified cdk-nag suppression on c and its children.
// appliesTo narrows it to the named findings (e.g. one wildcard resource).
func suppress(c constructs.IConstruct, id, reason string, appliesTo ...string) {
	sup := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		at := make([]interface{}, len(appliesTo))
		for i, a := range appliesTo {
			at[i] = a
		}
		sup.AppliesTo = &at
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{sup}, jsii.Bool(true))
}
