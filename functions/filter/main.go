// Command filter is the filter Lambda: the EventBridge rule's target. It
// matches each event against the endpoint configurations (cached, see
// awsapp.DefaultEndpointCacheTTL) and enqueues one delivery task per
// matching endpoint on that endpoint's SQS queue.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/awsapp/filterfn"
)

func main() {
	cfg, awsCfg := awsapp.MustLoad(false)
	lambda.Start(filterfn.Handler(awsapp.New(cfg, awsCfg, awsapp.Options{})).Handle)
}
