// Command infra is the CDK app that deploys PhoneShield Webhooks into an
// AWS account: `npx cdk synth` / `npx cdk deploy` from the repository root
// run it (cdk.json: `go run ./infra`).
//
// It first builds the Lambda binaries from source with
// scripts/build-lambdas.sh (reproducible: the same source gives the same
// bytes, so the asset hashes only change when the code does), then defines
// one stack, PhoneShieldWebhooks:
//
//	EventBridge bus (+ archive) ─ rule source=phoneshield ─▶ filter Lambda
//	     (retry policy; undeliverable events and failed async invocations
//	      go to the events DLQ)
//	filter ─▶ SQS queue per endpoint, <QueuePrefix><endpoint id>
//	     (created at run time by the control plane, package provision)
//	endpoint queues ─ event source mappings ─▶ deliver Lambda ─▶ receivers
//	     (optionally from a VPC behind NAT gateways with two Elastic IPs)
//	deliver ─▶ shared DLQ after the last failed attempt
//	DynamoDB: endpoints, deliveries (+ idempotency keys), rate limits,
//	     built from dynamo.Schemas so the stack and the code can't drift
//	alarms ─▶ SNS topic (KMS encrypted, optional email); a dashboard
//	HTTP API (IAM auth) ─▶ management Lambda, when functions/api exists
//
// The functions' environment comes from awsapp.Config.Env, the same names
// the functions read. Settings come from the CDK context (see Params and
// the README's Deploy section); a bad value fails synth naming the key.
//
// IAM is written by hand, action by action, from what the adapters call;
// every resource wildcard is commented where it is written and suppressed
// for cdk-nag (AwsSolutions) with its reason next to it. The tests
// synthesize each plan, with and without static egress IPs, check the
// template, require no cdk-nag errors and run cfn-lint.
package main
