package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// Delivery outcome metrics, from the deliverer's JSON log lines
// (msg "delivered" / "attempt failed", package delivery).
const (
	MetricDelivered      = "Delivered"
	MetricAttemptsFailed = "AttemptsFailed"
)

// Alarm thresholds.
const (
	// failureRatePercent over failureRateWindow, once at least
	// failureRateMinAttempts were made: most receivers are failing.
	failureRatePercent     = 50
	failureRateMinAttempts = 10
	// dlqAgeDays: the oldest dead letter has used half of the 14 days SQS
	// keeps it; redrive or purge before it expires.
	dlqAgeDays = 7
)

// failureRateWindow is a function: a package-level jsii value would start
// the jsii runtime before main could configure it.
func failureRateWindow() awscdk.Duration { return awscdk.Duration_Minutes(jsii.Number(15)) }

// metricsNamespace is the stack's namespace for its own metrics.
func metricsNamespace(s *Stack) string { return "PhoneShieldWebhooks/" + *s.Stack.StackName() }

// newMonitoring adds the alarm topic, the alarms and the dashboard.
func newMonitoring(s *Stack, rule awsevents.Rule, api *managementAPI) {
	stack := s.Stack
	topic := newAlarmTopic(s)
	var alarms []awscloudwatch.Alarm
	alarm := func(id, desc string, m awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String(desc),
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		a.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
		alarms = append(alarms, a)
	}
	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	one := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Maximum")}

	alarm("DeadLetterQueueNotEmpty", "Deliveries were dead-lettered (last retry failed, endpoint gone or disabled, or poison input): inspect, redrive or purge the DLQ.",
		s.DLQ.MetricApproximateNumberOfMessagesVisible(one), 0)
	alarm("EventsDeadLetterQueueNotEmpty", "Events could not be handed to the filter function (EventBridge or Lambda gave up): inspect the events DLQ and re-put them.",
		s.EventsDLQ.MetricApproximateNumberOfMessagesVisible(one), 0)
	for id, q := range map[string]awssqs.Queue{"DeadLetterQueueAging": s.DLQ, "EventsDeadLetterQueueAging": s.EventsDLQ} {
		alarm(id, "The oldest message has waited half of the DLQ's 14-day retention: redrive or purge it before SQS deletes it.",
			q.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}), dlqAgeDays*24*3600)
	}
	fns := map[string]awslambda.Function{"Filter": s.Filter, "Deliver": s.Deliver}
	if api != nil {
		fns["Management"] = api.fn
	}
	for name, fn := range fns {
		alarm(name+"Errors", "The "+name+" function failed (crash, timeout or returned error).", fn.MetricErrors(sum), 0)
		alarm(name+"Throttles", "The "+name+" function was throttled (its reserved concurrency or the account's limit).", fn.MetricThrottles(sum), 0)
	}
	busRule := &map[string]*string{"EventBusName": s.Bus.EventBusName(), "RuleName": rule.RuleName()}
	eventsMetric := func(name string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Events"), MetricName: jsii.String(name), DimensionsMap: busRule,
			Period: five, Statistic: jsii.String("Sum"),
		})
	}
	alarm("EventsLost", "EventBridge failed to invoke the filter permanently and could not dead-letter the event.",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("FILL(failed, 0) + FILL(nodlq, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"failed": eventsMetric("FailedInvocations"), "nodlq": eventsMetric("InvocationsFailedToBeSentToDlq"),
			},
			Label:  jsii.String("events lost"),
			Period: five,
		}), 0)

	// Delivery outcomes from the deliverer's log lines.
	ns := metricsNamespace(s)
	deliverLogs := s.Deliver.LogGroup()
	for metric, msg := range map[string]string{MetricDelivered: "delivered", MetricAttemptsFailed: "attempt failed"} {
		awslogs.NewMetricFilter(stack, jsii.String(metric+"Filter"), &awslogs.MetricFilterProps{
			LogGroup:        deliverLogs,
			FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(msg)),
			MetricNamespace: jsii.String(ns),
			MetricName:      jsii.String(metric),
			MetricValue:     jsii.String("1"),
		})
	}
	outcome := func(name string, period awscdk.Duration) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(ns), MetricName: jsii.String(name), Period: period, Statistic: jsii.String("Sum"),
		})
	}
	failureRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(FILL(failed, 0) + FILL(ok, 0) >= " + itoa(failureRateMinAttempts) +
			", 100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(ok, 0)), 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"failed": outcome(MetricAttemptsFailed, failureRateWindow()), "ok": outcome(MetricDelivered, failureRateWindow()),
		},
		Label:  jsii.String("failed attempts %"),
		Period: failureRateWindow(),
	})
	alarm("DeliveryFailureRate", "Over "+itoa(failureRatePercent)+"% of delivery attempts failed in 15 minutes (at least "+
		itoa(failureRateMinAttempts)+" attempts): receivers are down or rejecting; retries are pending.", failureRate, failureRatePercent)

	newDashboard(s, rule, api, alarms, failureRate, outcome)
}

// newAlarmTopic is the SNS topic alarms notify, encrypted with a customer
// managed key (CloudWatch cannot publish to a topic under the AWS managed
// SNS key), with the email subscription when alarmEmail is set.
func newAlarmTopic(s *Stack) awssns.Topic {
	stack := s.Stack
	account := awsiam.NewAccountRootPrincipal()
	// The key policy: the account administers and uses the key through
	// IAM (actions listed, not kms:*); CloudWatch may encrypt the alarm
	// messages it publishes. Resource "*" in a key policy means this key.
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AccountAdministersKey"),
			Principals: &[]awsiam.IPrincipal{account},
			Actions: jsii.Strings(
				"kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
				"kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:ListKeyRotations", "kms:RotateKeyOnDemand",
				"kms:EnableKey", "kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:UpdateKeyDescription",
				"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
				"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant",
				"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
			),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CloudWatchPublishesAlarms"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
			Resources:  jsii.Strings("*"),
		}),
	}})
	key := awskms.NewKey(stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("PhoneShield Webhooks: encrypts the alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		Policy:            policy,
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY, // only ever encrypts transient notifications
		PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
	})
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("PhoneShield Webhooks alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// The topic policy replaces SNS's default, so CloudWatch (alarms of
	// this account only) is allowed to publish explicitly.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]interface{}{"StringEquals": map[string]interface{}{"aws:SourceAccount": *stack.Account()}},
	}))
	if s.Params.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(s.Params.AlarmEmail), nil))
	}
	awscdk.NewCfnOutput(stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Value: topic.TopicArn(), Description: jsii.String("alarms notify this topic; subscribe more endpoints to it"),
	})
	return topic
}

// newDashboard lays out the pipeline from events in to deliveries out.
func newDashboard(s *Stack, rule awsevents.Rule, api *managementAPI, alarms []awscloudwatch.Alarm,
	failureRate awscloudwatch.IMetric, outcome func(string, awscdk.Duration) awscloudwatch.Metric) {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	sum := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")}
	p99 := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("p99")}
	max := &awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")}
	graph := func(title string, left []awscloudwatch.IMetric, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
		g := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(8), Height: jsii.Number(6)}
		if len(right) > 0 {
			g.Right = &right
		}
		return awscloudwatch.NewGraphWidget(g)
	}
	events := func(name string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Events"), MetricName: jsii.String(name), Period: five, Statistic: jsii.String("Sum"),
			DimensionsMap: &map[string]*string{"EventBusName": s.Bus.EventBusName(), "RuleName": rule.RuleName()},
		})
	}
	fnRow := func(name string, fn awslambda.Function) []awscloudwatch.IWidget {
		return []awscloudwatch.IWidget{
			graph(name+": invocations, errors, throttles",
				[]awscloudwatch.IMetric{fn.MetricInvocations(sum), fn.MetricErrors(sum), fn.MetricThrottles(sum)}, nil),
			graph(name+": duration p99 (ms)", []awscloudwatch.IMetric{fn.MetricDuration(p99)}, nil),
			graph(name+": concurrent executions", []awscloudwatch.IMetric{fn.Metric(jsii.String("ConcurrentExecutions"), max)}, nil),
		}
	}
	refs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
	for i, a := range alarms {
		refs[i] = a
	}
	rows := [][]awscloudwatch.IWidget{
		{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: &refs, Width: jsii.Number(24),
		})},
		{
			graph("Events: matched, invocations, failures",
				[]awscloudwatch.IMetric{events("MatchedEvents"), events("Invocations"), events("FailedInvocations"), events("InvocationsSentToDlq")}, nil),
			graph("Deliveries: delivered and failed attempts",
				[]awscloudwatch.IMetric{outcome(MetricDelivered, five), outcome(MetricAttemptsFailed, five)},
				[]awscloudwatch.IMetric{failureRate}),
			graph("Dead-letter queues: depth and oldest (s)",
				[]awscloudwatch.IMetric{s.DLQ.MetricApproximateNumberOfMessagesVisible(max), s.EventsDLQ.MetricApproximateNumberOfMessagesVisible(max)},
				[]awscloudwatch.IMetric{s.DLQ.MetricApproximateAgeOfOldestMessage(max), s.EventsDLQ.MetricApproximateAgeOfOldestMessage(max)}),
		},
		fnRow("Filter", s.Filter),
		fnRow("Deliver", s.Deliver),
	}
	if api != nil {
		rows = append(rows, fnRow("Management API", api.fn))
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	awscloudwatch.NewDashboard(s.Stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
		Widgets:         &widgets,
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
