package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// managementAPI is the HTTP API (IAM auth) in front of the management
// function, which serves the /v1 API and runs the control plane.
type managementAPI struct {
	fn   awslambda.Function
	http awsapigatewayv2.HttpApi
}

// reconcileMinutes is how often the control plane's repair round runs.
const reconcileMinutes = 15

// API stage throttling: operator traffic, capped well below what could
// run up a bill or crowd the account's Lambda concurrency.
const (
	apiRateLimit  = 20
	apiBurstLimit = 40
)

func newManagementAPI(s *Stack, asset string, env map[string]string, egress *Egress) *managementAPI {
	stack := s.Stack
	production := s.Params.Environment == EnvProduction
	fn := newFunction(stack, "Management", functionSpec{
		asset: asset, memoryMB: apiMemoryMB, timeout: apiTimeout, concurrency: apiConcurrency,
		env: env, params: s.Params, production: production,
		description: "PhoneShield Webhooks: management API (/v1) and control plane of the endpoint queues",
		tweak: func(fp *awslambda.FunctionProps) {
			// Test events are sent from here: with static egress IPs they
			// must leave from the same addresses as deliveries.
			if egress != nil {
				egress.place(fp)
			}
		},
	})
	grantManagement(s, fn.Role())
	if egress != nil {
		egress.grant(s, fn.Role())
	}
	s.API = fn
	// The control plane's repair round (apifn.Function.Reconcile): drift
	// repaired, and the queues of deleted endpoints removed once their
	// tasks have drained to the DLQ (deleting them at once lost them).
	awsevents.NewRule(stack, jsii.String("Reconcile"), &awsevents.RuleProps{
		Description: jsii.String("PhoneShield Webhooks: reconcile the endpoint queues (drift, drained queues of deleted endpoints)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(reconcileMinutes))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(0), // the next round comes soon enough
		})},
	})

	accessLogs := awslogs.NewLogGroup(stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     retention(s.Params.LogRetentionDays),
		RemovalPolicy: removalPolicy(production),
	})
	api := awsapigatewayv2.NewHttpApi(stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		Description: jsii.String("PhoneShield Webhooks management API (/v1); callers sign with SigV4 (IAM)"),
		// Every route, $default included, requires IAM (SigV4): grant
		// execute-api:Invoke to operators and the CLI's role.
		DefaultAuthorizer:  awsapigatewayv2authorizers.NewHttpIamAuthorizer(),
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Management"), fn, nil),
	})
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller",` +
			`"user":"$context.identity.user","userArn":"$context.identity.userArn","requestTime":"$context.requestTime",` +
			`"method":"$context.httpMethod","path":"$context.path","status":"$context.status",` +
			`"protocol":"$context.protocol","responseLength":"$context.responseLength",` +
			`"integrationError":"$context.integrationErrorMessage","authorizerError":"$context.authorizer.error"}`),
	})
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingRateLimit:  jsii.Number(apiRateLimit),
		ThrottlingBurstLimit: jsii.Number(apiBurstLimit),
	})
	return &managementAPI{fn: fn, http: api}
}
