package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/dynamo"
	"github.com/phoneshield/webhooks/shared/webhook"
)

var testRoot string

func TestMain(m *testing.M) {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testRoot = root
	setJSIIDefaults(root) // package cache in build/, before anything is loaded
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// must runs f, turning the panic of a failed assertion into t.Fatal.
func must(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Helper()
			t.Fatalf("%v", r)
		}
	}()
	f()
}

var (
	buildOnce sync.Once
	buildErr  error
	buildLog  bytes.Buffer
)

// assets builds the Lambda binaries once (scripts/build-lambdas.sh, as
// synth does) and returns their folders, with the management function
// or without it (a stand-in bootstrap if functions/api does not exist).
func assets(t *testing.T, withAPI bool) Assets {
	t.Helper()
	buildOnce.Do(func() { buildErr = BuildLambdas(testRoot, &buildLog) })
	if buildErr != nil {
		t.Fatalf("%v\n%s", buildErr, buildLog.String())
	}
	a := LambdaAssets(testRoot)
	if !withAPI {
		a.API = ""
	} else if a.API == "" {
		a.API = t.TempDir()
		if err := os.WriteFile(filepath.Join(a.API, "bootstrap"), []byte("stand-in for functions/api"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// synthesized is one configuration, synthesized once.
type synthesized struct {
	stack    *Stack
	tmpl     assertions.Template
	doc      map[string]any // the template as JSON
	file     string         // the template file in the cloud assembly
	took     time.Duration
	resource func(typ string) map[string]map[string]any
}

var synthCount int

// synth builds the app for context ctx into t.TempDir() with the
// AwsSolutions checks, the way cdk synth does.
func synth(t *testing.T, ctx map[string]any, withAPI bool) *synthesized {
	t.Helper()
	a := assets(t, withAPI)
	start := time.Now()
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &ctx})
	p, err := ParamsFromContext(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) })
	if err != nil {
		t.Fatal(err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), LogIgnores: jsii.Bool(true)}), nil)
	var s *Stack
	var tmpl assertions.Template
	must(t, func() {
		s = NewStack(app, StackName, &StackProps{Params: p, Assets: a})
		app.Synth(nil)
		tmpl = assertions.Template_FromStack(s.Stack, nil)
	})
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := &synthesized{stack: s, tmpl: tmpl, doc: doc, file: filepath.Join(outdir, StackName+".template.json"), took: time.Since(start)}
	out.resource = func(typ string) map[string]map[string]any {
		found := map[string]map[string]any{}
		for id, r := range doc["Resources"].(map[string]any) {
			if r := r.(map[string]any); r["Type"] == typ {
				found[id] = r
			}
		}
		return found
	}
	synthCount++
	t.Logf("synth #%d (%s) took %s", synthCount, describe(ctx), out.took.Round(10*time.Millisecond))
	return out
}

func describe(ctx map[string]any) string {
	var parts []string
	for k, v := range ctx {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// The configurations: each plan once, with the egress flag off and on,
// the management API out (as today) and in (stand-in asset).
func TestStack(t *testing.T) {
	for _, c := range []struct {
		name    string
		ctx     map[string]any
		withAPI bool
	}{
		{"standard", map[string]any{"plan": "standard"}, false},
		{"business-defaults", map[string]any{}, false},
		{"enterprise-egress-api-sandbox", map[string]any{
			"plan": "enterprise", "staticEgressIps": true, "environment": "sandbox",
			"alarmEmail": "ops@example.com", "logRetentionDays": "90", "deliveryLogTtlDays": 14, "archiveRetentionDays": 0,
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := synth(t, c.ctx, c.withAPI)
			checkStack(t, s, c.withAPI)
		})
	}
}

func checkStack(t *testing.T, s *synthesized, withAPI bool) {
	t.Helper()
	p := s.stack.Params
	tmpl := s.tmpl
	prefix := QueuePrefix(StackName)

	t.Run("functions", func(t *testing.T) {
		cfg := map[string]string{
			awsapp.EnvPlan: p.Plan.Name, awsapp.EnvQueuePrefix: prefix,
			awsapp.EnvLogTTLDays:       fmt.Sprint(p.DeliveryLogTTLDays),
			awsapp.EnvEndpointCacheTTL: awsapp.DefaultEndpointCacheTTL.String(),
			awsapp.EnvAllowHTTP:        fmt.Sprint(p.Environment == EnvSandbox),
		}
		vars := map[string]any{}
		for k := range (awsapp.Config{}).Env() { // every variable the functions read
			if v, ok := cfg[k]; ok {
				vars[k] = v
			} else {
				vars[k] = assertions.Match_AnyValue()
			}
		}
		for _, f := range []struct {
			id          string
			memory      int
			timeout     float64
			concurrency int
		}{
			{"Filter", filterMemoryMB, 30, filterConcurrency[p.Plan.Name]},
			{"Deliver", deliverMemoryMB, 60, p.Plan.MaxEndpoints * 2},
		} {
			must(t, func() {
				tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
					"Description":                  assertions.Match_StringLikeRegexp(jsii.String(map[string]string{"Filter": "matches", "Deliver": "signs"}[f.id])),
					"Runtime":                      "provided.al2023",
					"Architectures":                []any{"arm64"},
					"Handler":                      "bootstrap",
					"MemorySize":                   f.memory,
					"Timeout":                      f.timeout,
					"ReservedConcurrentExecutions": f.concurrency,
					"Environment":                  map[string]any{"Variables": assertions.Match_ObjectEquals(&vars)},
					"LoggingConfig":                map[string]any{"LogGroup": assertions.Match_AnyValue()},
				})
			})
		}
		// PS_PLAN carries the plan (the reason for per-plan synths).
		if got := len(s.resource("AWS::Lambda::Function")); got != 2+btoi(withAPI) {
			t.Errorf("functions: %d, want %d", got, 2+btoi(withAPI))
		}
		for id, fn := range s.resource("AWS::Lambda::Function") {
			vars := dig(fn, "Properties", "Environment", "Variables").(map[string]any)
			if vars[awsapp.EnvPlan] != p.Plan.Name {
				t.Errorf("%s: PS_PLAN = %v, want %s", id, vars[awsapp.EnvPlan], p.Plan.Name)
			}
		}
		must(t, func() {
			// Retries go back to the deliver function's own queue.
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
				"Timeout": 60, "RecursiveLoop": "Allow",
			})
			// The filter's asynchronous invocations: retried, then to the events DLQ.
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
				"Timeout": 30, "DeadLetterConfig": map[string]any{"TargetArn": getAtt(s, "EventsDeadLetterQueue", "Arn")},
			})
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
				"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 6 * 3600,
			})
		})
	})

	t.Run("tables from dynamo.Schemas", func(t *testing.T) {
		schemas := dynamo.Schemas(tableIDs)
		must(t, func() { tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(float64(len(schemas)))) })
		for _, sc := range schemas {
			in := sc.Table
			var ks, defs, gsis []any
			for _, k := range in.KeySchema {
				ks = append(ks, map[string]any{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
			}
			for _, a := range in.AttributeDefinitions {
				defs = append(defs, map[string]any{"AttributeName": aws.ToString(a.AttributeName), "AttributeType": string(a.AttributeType)})
			}
			for _, g := range in.GlobalSecondaryIndexes {
				var gks []any
				for _, k := range g.KeySchema {
					gks = append(gks, map[string]any{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
				}
				gsis = append(gsis, map[string]any{
					"IndexName": aws.ToString(g.IndexName), "KeySchema": gks,
					"Projection": map[string]any{"ProjectionType": string(g.Projection.ProjectionType)},
				})
			}
			props := map[string]any{
				"KeySchema":                        ks,
				"AttributeDefinitions":             assertions.Match_ArrayWith(&defs),
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"SSESpecification":                 map[string]any{"SSEEnabled": true},
				"DeletionProtectionEnabled":        p.Environment == EnvProduction,
			}
			if gsis != nil {
				props["GlobalSecondaryIndexes"] = gsis
			} else {
				props["GlobalSecondaryIndexes"] = assertions.Match_Absent()
			}
			if sc.TTLAttribute != "" {
				props["TimeToLiveSpecification"] = map[string]any{"AttributeName": sc.TTLAttribute, "Enabled": true}
			} else {
				props["TimeToLiveSpecification"] = assertions.Match_Absent()
			}
			policy := "Delete"
			if p.Environment == EnvProduction {
				policy = "Retain"
			}
			must(t, func() {
				tmpl.HasResource(jsii.String("AWS::DynamoDB::Table"), map[string]any{"Properties": props, "DeletionPolicy": policy})
			})
		}
	})

	t.Run("queues", func(t *testing.T) {
		must(t, func() {
			tmpl.ResourceCountIs(jsii.String("AWS::SQS::Queue"), jsii.Number(2))
			tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
				"SqsManagedSseEnabled": true, "MessageRetentionPeriod": 14 * 24 * 3600, "ReceiveMessageWaitTimeSeconds": 0,
			})
			tmpl.AllResourcesProperties(jsii.String("AWS::SQS::Queue"), map[string]any{"SqsManagedSseEnabled": true})
			// TLS only, on both queues.
			tmpl.AllResourcesProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{like(map[string]any{
					"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
				})})},
			})
			tmpl.ResourceCountIs(jsii.String("AWS::SQS::QueuePolicy"), jsii.Number(2))
		})
	})

	t.Run("events", func(t *testing.T) {
		pattern := map[string]any{"source": []any{webhook.Source}}
		archive := map[string]any{"EventPattern": pattern, "SourceArn": getAtt(s, "Bus", "Arn")}
		archive["RetentionDays"] = p.ArchiveRetentionDays // 0: kept indefinitely
		must(t, func() {
			tmpl.ResourceCountIs(jsii.String("AWS::Events::EventBus"), jsii.Number(1))
			tmpl.HasResourceProperties(jsii.String("AWS::Events::Archive"), archive)
			tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
				"EventBusName": ref(s, "Bus"),
				"EventPattern": pattern,
				"Targets": []any{map[string]any{
					"Arn":              getAtt(s, "Filter", "Arn"),
					"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600},
					"DeadLetterConfig": map[string]any{"Arn": getAtt(s, "EventsDeadLetterQueue", "Arn")},
					"Id":               assertions.Match_AnyValue(),
				}},
			})
		})
	})

	t.Run("reconcile schedule", func(t *testing.T) {
		// The management function repairs the endpoint queues on a
		// schedule, and removes those of deleted endpoints once drained.
		scheduled := map[string]any{"ScheduleExpression": fmt.Sprintf("rate(%d minutes)", reconcileMinutes)}
		if !withAPI {
			must(t, func() { tmpl.ResourcePropertiesCountIs(jsii.String("AWS::Events::Rule"), scheduled, jsii.Number(0)) })
			return
		}
		must(t, func() {
			tmpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
				"ScheduleExpression": scheduled["ScheduleExpression"],
				"State":              "ENABLED",
				"Targets": []any{map[string]any{
					"Arn":         getAtt(s, "Management", "Arn"),
					"RetryPolicy": map[string]any{"MaximumRetryAttempts": 0},
					"Id":          assertions.Match_AnyValue(),
				}},
			})
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
				"Action":       "lambda:InvokeFunction",
				"FunctionName": getAtt(s, "Management", "Arn"),
				"Principal":    "events.amazonaws.com",
				"SourceArn":    getAtt(s, "Reconcile", "Arn"),
			})
		})
	})

	t.Run("iam", func(t *testing.T) { checkIAM(t, s, withAPI) })

	t.Run("monitoring", func(t *testing.T) {
		alarms := s.resource("AWS::CloudWatch::Alarm")
		want := 4 + 1 + 1 + 2*(2+btoi(withAPI)) // DLQ depth ×2, age ×2, events lost, failure rate, errors+throttles per function
		if len(alarms) != want {
			t.Errorf("alarms: %d, want %d", len(alarms), want)
		}
		topic := ref(s, "AlarmTopic")
		must(t, func() {
			tmpl.AllResourcesProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"AlarmActions": []any{topic}, "OKActions": []any{topic},
				"TreatMissingData": "notBreaching", "ComparisonOperator": "GreaterThanThreshold",
			})
			tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS", "Threshold": 0,
				"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": getAtt(s, "DeadLetterQueue", "QueueName")}},
			})
			tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": dlqAgeDays * 24 * 3600,
				"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": getAtt(s, "EventsDeadLetterQueue", "QueueName")}},
			})
			for _, fn := range []string{"Filter", "Deliver"} {
				for _, m := range []string{"Errors", "Throttles"} {
					tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
						"MetricName": m, "Namespace": "AWS/Lambda", "Threshold": 0,
						"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": ref(s, fn)}},
					})
				}
			}
			for metric, msg := range map[string]string{MetricDelivered: "delivered", MetricAttemptsFailed: "attempt failed"} {
				tmpl.HasResourceProperties(jsii.String("AWS::Logs::MetricFilter"), map[string]any{
					"LogGroupName":          ref(s, "DeliverLogs"),
					"FilterPattern":         fmt.Sprintf(`{ $.msg = "%s" }`, msg),
					"MetricTransformations": []any{map[string]any{"MetricName": metric, "MetricValue": "1", "MetricNamespace": "PhoneShieldWebhooks/" + StackName}},
				})
			}
			// The failure rate: metric math over the two metric filters.
			tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"Threshold": failureRatePercent,
				"Metrics": assertions.Match_ArrayWith(&[]any{like(map[string]any{
					"Expression": assertions.Match_StringLikeRegexp(jsii.String(`100 \* FILL\(failed, 0\)`)), "ReturnData": true,
				})}),
			})
			tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"Metrics": assertions.Match_ArrayWith(&[]any{like(map[string]any{
					"Id": "failed", "ReturnData": false,
					"MetricStat": map[string]any{"Metric": map[string]any{"MetricName": "FailedInvocations", "Namespace": "AWS/Events",
						"Dimensions": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "EventBusName", "Value": ref(s, "Bus")}})},
						"Period": 300, "Stat": "Sum"},
				})}),
			})
			tmpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{"KmsMasterKeyId": getAtt(s, "AlarmTopicKey", "Arn")})
			tmpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
			tmpl.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), map[string]any{
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{like(map[string]any{
					"Effect": "Allow", "Action": "sns:Publish", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
					"Resource": topic, "Sid": "CloudWatchAlarmsPublish",
				})})},
			})
			if p.AlarmEmail != "" {
				tmpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{
					"Protocol": "email", "Endpoint": p.AlarmEmail, "TopicArn": topic,
				})
			} else {
				tmpl.ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(0))
			}
			tmpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(1))
			// Every log group keeps logs for the configured retention.
			tmpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": p.LogRetentionDays})
		})
		if got, want := len(s.resource("AWS::Logs::LogGroup")), 2+2*btoi(withAPI)+btoi(p.StaticEgressIPs); got != want {
			t.Errorf("log groups: %d, want %d", got, want)
		}
	})

	t.Run("static egress", func(t *testing.T) {
		n := float64(btoi(p.StaticEgressIPs))
		must(t, func() {
			tmpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(n))
			tmpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(2*n))
			tmpl.ResourceCountIs(jsii.String("AWS::EC2::EIP"), jsii.Number(2*n))
			tmpl.ResourceCountIs(jsii.String("AWS::EC2::FlowLog"), jsii.Number(n))
			if p.StaticEgressIPs {
				for i := 1; i <= 2; i++ {
					tmpl.HasOutput(jsii.String(fmt.Sprintf("EgressIp%d", i)), map[string]any{"Value": getAtt(s, fmt.Sprintf("EgressEip%d", i), "PublicIp")})
					tmpl.HasResourceProperties(jsii.String("AWS::EC2::NatGateway"), map[string]any{
						"AllocationId": getAtt(s, fmt.Sprintf("EgressEip%d", i), "AllocationId"),
					})
				}
				tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
					"Timeout":   60,
					"VpcConfig": map[string]any{"SubnetIds": assertions.Match_AnyValue(), "SecurityGroupIds": []any{getAtt(s, "DeliverSecurityGroup", "GroupId")}},
				})
				// Two private subnets, one per NAT gateway's zone.
				// The deliverer and the management function (test events)
				// leave from the EIPs; the filter needs no VPC.
				inVPC := 0
				for id, fn := range s.resource("AWS::Lambda::Function") {
					vc, ok := dig(fn, "Properties").(map[string]any)["VpcConfig"]
					if !ok {
						continue
					}
					inVPC++
					if subnets := dig(vc, "SubnetIds").([]any); len(subnets) != 2 {
						panic(fmt.Sprintf("%s: %d subnets, want 2", id, len(subnets)))
					}
				}
				if inVPC != 1+btoi(withAPI) {
					panic(fmt.Sprintf("%d functions in the VPC, want %d", inVPC, 1+btoi(withAPI)))
				}
			} else {
				tmpl.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), map[string]any{"VpcConfig": assertions.Match_Absent()})
				if outs := tmpl.FindOutputs(jsii.String("EgressIp1"), map[string]any{}); len(*outs) != 0 {
					panic("EgressIp1 output without static egress")
				}
			}
		})
	})

	t.Run("management api", func(t *testing.T) {
		n := float64(btoi(withAPI))
		must(t, func() {
			tmpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Api"), jsii.Number(n))
			if !withAPI {
				if outs := tmpl.FindOutputs(jsii.String("ApiUrl"), map[string]any{}); len(*outs) != 0 {
					panic("ApiUrl output without the management API")
				}
				return
			}
			tmpl.HasOutput(jsii.String("ApiUrl"), map[string]any{})
			tmpl.AllResourcesProperties(jsii.String("AWS::ApiGatewayV2::Route"), map[string]any{"AuthorizationType": "AWS_IAM"})
			tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
				"AccessLogSettings":    map[string]any{"DestinationArn": getAtt(s, "ApiAccessLogs", "Arn"), "Format": assertions.Match_AnyValue()},
				"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": apiRateLimit, "ThrottlingBurstLimit": apiBurstLimit},
			})
			vars := map[string]any{}
			for k := range (awsapp.Config{}).Env() {
				vars[k] = assertions.Match_AnyValue()
			}
			vars[awsapp.EnvPlan], vars[awsapp.EnvQueuePrefix] = p.Plan.Name, prefix
			vars[awsapp.EnvDeliverFunction] = ref(s, "Deliver")
			vars[awsapp.EnvDLQARN] = getAtt(s, "DeadLetterQueue", "Arn")
			vars[awsapp.EnvMaxConcurrency] = "2"
			tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
				"ReservedConcurrentExecutions": apiConcurrency,
				"Timeout":                      29,
				"Environment":                  map[string]any{"Variables": assertions.Match_ObjectEquals(&vars)},
				"VpcConfig":                    map[string]any{"SubnetIds": assertions.Match_AnyValue(), "SecurityGroupIds": assertions.Match_AnyValue()},
			})
		})
	})

	t.Run("outputs", func(t *testing.T) {
		for _, id := range []string{"EventBusName", "EventBusArn", "EndpointsTableName", "DeliveriesTableName", "RateLimitsTableName",
			"DeadLetterQueueUrl", "EventsDeadLetterQueueUrl", "DeliverFunctionName", "AlarmTopicArn"} {
			must(t, func() { tmpl.HasOutput(jsii.String(id), map[string]any{"Value": assertions.Match_AnyValue()}) })
		}
		must(t, func() { tmpl.HasOutput(jsii.String("QueuePrefix"), map[string]any{"Value": prefix}) })
	})

	t.Run("cdk-nag", func(t *testing.T) {
		ann := assertions.Annotations_FromStack(s.stack.Stack)
		var errs, warns, ignored []nagMessage
		must(t, func() {
			ignored = messages(ann.FindInfo(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))))
			errs = messages(ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))))
			warns = messages(ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))))
		})
		for _, m := range warns {
			t.Logf("cdk-nag warning: %s: %s", m.path, m.text)
		}
		for _, m := range errs {
			t.Errorf("cdk-nag error: %s: %s", m.path, m.text)
		}
		for _, m := range ignored {
			t.Logf("cdk-nag suppressed: %s: %.160s", m.path, m.text)
		}
		// The pack ran: the justified suppressions are reported.
		if len(ignored) == 0 {
			t.Error("cdk-nag reported no suppressed findings: did the AwsSolutions checks run?")
		}
		t.Logf("cdk-nag: %d errors, %d warnings, %d suppressed", len(errs), len(warns), len(ignored))
	})

	t.Run("cfn-lint", func(t *testing.T) {
		lint, err := exec.LookPath("cfn-lint")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("cfn-lint not installed (required in CI)")
			}
			t.Skip("cfn-lint not installed")
		}
		// W3005 (DependsOn already implied) is how CDK orders a function
		// after its role's policy; everything else fails the test.
		out, err := exec.Command(lint, "--format", "parseable", "--ignore-checks", "W3005",
			"--non-zero-exit-code", "informational", s.file).CombinedOutput()
		if err != nil {
			t.Fatalf("cfn-lint: %v\n%s", err, out)
		}
	})
}

// checkIAM: the statements each role has, no wildcard actions, and only
// the resource wildcards justified in iam.go and egress.go.
func checkIAM(t *testing.T, s *synthesized, withAPI bool) {
	prefixArn := map[string]any{"Fn::Join": []any{"", []any{
		"arn:", map[string]any{"Ref": "AWS::Partition"}, ":sqs:", map[string]any{"Ref": "AWS::Region"}, ":",
		map[string]any{"Ref": "AWS::AccountId"}, ":" + QueuePrefix(StackName) + "whk_*",
	}}}
	stmt := func(actions any, resource any) map[string]any {
		return map[string]any{"Effect": "Allow", "Action": actions, "Resource": resource}
	}
	policyOf := func(role string, stmts ...any) {
		t.Helper()
		must(t, func() {
			s.tmpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
				"Roles":          []any{ref(s, role)},
				"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&stmts)},
			})
		})
	}
	policyOf("FilterRole",
		stmt("dynamodb:Scan", getAtt(s, "Endpoints", "Arn")),
		stmt([]any{"dynamodb:GetItem", "dynamodb:UpdateItem"}, getAtt(s, "Deliveries", "Arn")),
		stmt([]any{"sqs:SendMessage", "sqs:GetQueueUrl"}, prefixArn),
		stmt("sqs:SendMessage", getAtt(s, "DeadLetterQueue", "Arn")),
	)
	policyOf("DeliverRole",
		stmt("dynamodb:GetItem", getAtt(s, "Endpoints", "Arn")),
		stmt([]any{"dynamodb:GetItem", "dynamodb:UpdateItem"}, getAtt(s, "Deliveries", "Arn")),
		stmt("dynamodb:UpdateItem", getAtt(s, "RateLimits", "Arn")),
		stmt([]any{"sqs:SendMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, prefixArn),
		stmt("sqs:SendMessage", getAtt(s, "DeadLetterQueue", "Arn")),
	)
	if withAPI {
		onlyDeliver := map[string]any{"ArnEquals": map[string]any{"lambda:FunctionArn": getAtt(s, "Deliver", "Arn")}}
		policyOf("ManagementRole",
			stmt([]any{"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:SendMessage"}, prefixArn),
			map[string]any{"Effect": "Allow", "Action": "lambda:CreateEventSourceMapping", "Resource": "*", "Condition": onlyDeliver},
			map[string]any{"Effect": "Allow", "Action": []any{"lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"},
				"Resource": assertions.Match_AnyValue(), "Condition": onlyDeliver},
		)
	}

	// No wildcard actions anywhere (the enforce-SSL denies are Deny).
	// Resource wildcards: only the ones justified in the code.
	wildcards := map[string]int{}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::KMS::Key", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"} {
		for id, r := range s.resource(typ) {
			for _, st := range statements(r) {
				for _, a := range list(st["Action"]) {
					if st["Effect"] == "Allow" && strings.Contains(fmt.Sprint(a), "*") {
						t.Errorf("%s: wildcard action %v", id, a)
					}
				}
				if st["Effect"] != "Allow" {
					continue
				}
				for _, res := range list(st["Resource"]) {
					raw, _ := json.Marshal(res)
					if strings.Contains(string(raw), "*") {
						wildcards[wildcardKey(string(raw))]++
						t.Logf("resource wildcard: %s %v on %s", id, st["Action"], raw)
					}
				}
			}
		}
	}
	allowed := []string{
		"log-group:*",            // the function's own log group's streams (GetAtt Arn ends in :*)
		"queue-prefix",           // endpoint queues, created at run time
		"*",                      // ListQueues, Create/ListEventSourceMappings, ec2 Describe*, key policy
		"event-source-mapping:*", // mappings of the deliver function (condition)
		"ec2:*/*",                // Lambda's VPC network interfaces
	}
	for k := range wildcards {
		if !slices.Contains(allowed, k) {
			t.Errorf("unexpected resource wildcard %s", k)
		}
	}
	total := 0
	for _, n := range wildcards {
		total += n
	}
	t.Logf("IAM statements with resource wildcards: %d %v", total, wildcards)
}

func wildcardKey(raw string) string {
	switch {
	case raw == `"*"`:
		return "*"
	case strings.Contains(raw, QueueWildcard(QueuePrefix(StackName))):
		return "queue-prefix"
	case strings.Contains(raw, "event-source-mapping:*"):
		return "event-source-mapping:*"
	case strings.Contains(raw, `:ec2:`) && strings.Contains(raw, `:*/*`):
		return "ec2:*/*"
	}
	return raw
}

func statements(r map[string]any) []map[string]any {
	var docs []any
	props, _ := r["Properties"].(map[string]any)
	for _, k := range []string{"PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"} {
		if d, ok := props[k]; ok {
			docs = append(docs, d)
		}
	}
	for _, p := range list(props["Policies"]) {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	var out []map[string]any
	for _, d := range docs {
		for _, st := range list(d.(map[string]any)["Statement"]) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// logicalID finds the one resource whose logical id is prefix + CDK's
// 8-character hash (or just prefix, for an L1 construct at the top).
func logicalID(s *synthesized, prefix string) string {
	re := regexp.MustCompile("^" + prefix + "([0-9A-F]{8})?$")
	var found []string
	for id := range s.doc["Resources"].(map[string]any) {
		if re.MatchString(id) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		panic(fmt.Sprintf("resource %s: found %v", prefix, found))
	}
	return found[0]
}

// like matches an object partially (array elements otherwise match
// exactly).
func like(m map[string]any) assertions.Matcher { return assertions.Match_ObjectLike(&m) }

func ref(s *synthesized, prefix string) map[string]any {
	return map[string]any{"Ref": logicalID(s, prefix)}
}

func getAtt(s *synthesized, prefix, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID(s, prefix), attr}}
}

func dig(v any, path ...string) any {
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

type nagMessage struct{ path, text string }

func messages(in *[]*cxapi.SynthesisMessage) []nagMessage {
	var out []nagMessage
	for _, m := range *in {
		out = append(out, nagMessage{path: aws.ToString(m.Id), text: fmt.Sprint(m.Entry.Data)})
	}
	return out
}

// TestContext: every parameter's default, forms and errors; a bad value
// names its context key.
func TestContext(t *testing.T) {
	none := func(string) any { return nil }
	p, err := ParamsFromContext(none)
	if err != nil || !reflect.DeepEqual(p, DefaultParams()) {
		t.Fatalf("defaults: %+v, %v", p, err)
	}
	// cdk.json spells out the same defaults.
	raw, err := os.ReadFile(filepath.Join(testRoot, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdkJSON struct{ Context map[string]any }
	if err := json.Unmarshal(raw, &cdkJSON); err != nil {
		t.Fatal(err)
	}
	fromFile, err := ParamsFromContext(func(k string) any { return cdkJSON.Context[k] })
	if err != nil || !reflect.DeepEqual(fromFile, DefaultParams()) {
		t.Errorf("cdk.json context: %+v, %v; want the defaults %+v", fromFile, err, DefaultParams())
	}

	good := []map[string]any{
		{"plan": "standard", "environment": "sandbox", "alarmEmail": "a@b.co", "logRetentionDays": 365.0,
			"deliveryLogTtlDays": "7", "archiveRetentionDays": 0.0, "staticEgressIps": "true"},
		{"plan": "enterprise", "staticEgressIps": true, "alarmEmail": ""},
	}
	for _, ctx := range good {
		if _, err := ParamsFromContext(func(k string) any { return ctx[k] }); err != nil {
			t.Errorf("%v: %v", ctx, err)
		}
	}
	for key, bad := range map[string][]any{
		CtxPlan:                 {"gold", ""},
		CtxEnvironment:          {"staging"},
		CtxAlarmEmail:           {"not-an-email", 3.0},
		CtxLogRetentionDays:     {31.0, "thirty", 0.0, 1.5},
		CtxDeliveryLogTTLDays:   {0.0, 3651.0, "x"},
		CtxArchiveRetentionDays: {-1.0},
		CtxStaticEgressIPs:      {"yes", 1.0},
	} {
		for _, v := range bad {
			_, err := ParamsFromContext(func(k string) any {
				if k == key {
					return v
				}
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), `"`+key+`"`) {
				t.Errorf("%s=%v: error %v, want one naming %q", key, v, err, key)
			}
		}
	}
}

// TestBadContextFailsSynth runs the app as cdk synth does (context in
// CDK_CONTEXT_JSON): a bad value stops it, before anything is built, with
// an error naming the key.
func TestBadContextFailsSynth(t *testing.T) {
	// The jsii kernel reads the context from its own environment, fixed
	// when it starts: restart it with the variable set, and again after
	// the variable is restored (cleanups run last-registered first).
	t.Cleanup(jsii.Close)
	t.Setenv("CDK_CONTEXT_JSON", `{"staticEgressIps":"maybe"}`)
	t.Setenv("CDK_OUTDIR", t.TempDir())
	jsii.Close()
	err := run()
	if err == nil || !strings.Contains(err.Error(), `"staticEgressIps"`) {
		t.Fatalf("run: %v, want an error naming staticEgressIps", err)
	}
}

// TestQueuePrefix: stack-specific, and leaves room for an endpoint id.
func TestQueuePrefix(t *testing.T) {
	for name, want := range map[string]string{
		"PhoneShieldWebhooks":   "PhoneShieldWebhooks-ep-",
		"Acme.Webhooks":         "Acme-Webhooks-ep-",
		strings.Repeat("x", 99): strings.Repeat("x", 40) + "-ep-",
	} {
		if got := QueuePrefix(name); got != want {
			t.Errorf("QueuePrefix(%q) = %q, want %q", name, got, want)
		}
	}
	if n := len(QueuePrefix(strings.Repeat("x", 99)) + "whk_" + strings.Repeat("a", 16)); n > 80 {
		t.Errorf("queue name of %d characters, SQS allows 80", n)
	}
}

// TestQueueWildcardLeavesOtherStacksAlone: a stack's IAM grants cover its
// endpoint queues and no queue of a stack whose name extends its own (the
// grants used to be <prefix>*: "Acme-ep-*" covers "Acme-ep-staging-ep-…").
func TestQueueWildcardLeavesOtherStacksAlone(t *testing.T) {
	covers := func(pattern, name string) bool { // IAM's trailing "*"
		return strings.HasPrefix(name, strings.TrimSuffix(pattern, "*"))
	}
	for _, tc := range []struct {
		stack, queue string
		want         bool
	}{
		{"Acme", QueuePrefix("Acme") + "whk_abc", true},
		{"Acme", QueuePrefix("Acme-ep-staging") + "whk_abc", false},
		{"PhoneShieldWebhooks", QueuePrefix("PhoneShieldWebhooks-ep-eu") + "whk_abc", false},
		{"Acme", QueuePrefix("Acme") + "dlq", false},
	} {
		if got := covers(QueueWildcard(QueuePrefix(tc.stack)), tc.queue); got != tc.want {
			t.Errorf("stack %s's grants (%s) cover %s: %t, want %t", tc.stack, QueueWildcard(QueuePrefix(tc.stack)), tc.queue, got, tc.want)
		}
	}
}

// TestAssetSizes reports each function's zipped size (what Lambda
// receives) and checks it is well under the 50 MB direct-upload limit.
func TestAssetSizes(t *testing.T) {
	a := assets(t, true)
	for name, dir := range map[string]string{"filter": a.Filter, "deliver": a.Deliver, "api": a.API} {
		if _, err := os.Stat(filepath.Join(testRoot, "functions", name, "main.go")); err != nil {
			continue // the stand-in
		}
		bin, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(bin)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: bootstrap %.1f MB, zipped %.1f MB", name, float64(len(bin))/1e6, float64(buf.Len())/1e6)
		if buf.Len() > 50<<20 {
			t.Errorf("%s: zipped %d bytes, over Lambda's 50 MB", name, buf.Len())
		}
	}
}

// TestLongStackNameWarns: a stack name over 40 characters, whose queue
// prefix is cut from it (and could be another stack's), gets a synth
// warning saying so.
func TestLongStackNameWarns(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	p, err := ParamsFromContext(func(k string) any { return app.Node().TryGetContext(jsii.String(k)) })
	if err != nil {
		t.Fatal(err)
	}
	name := "PhoneShieldWebhooksForTheWholeCompanyInProduction" // 49
	must(t, func() {
		s := NewStack(app, name, &StackProps{Params: p, Assets: assets(t, false)})
		assertions.Annotations_FromStack(s.Stack).HasWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String("stack name over 40 characters.*"+QueuePrefix(name))))
	})
}
