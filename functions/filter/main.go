// Command filter is the filter Lambda: the EventBridge rule's target. It
// matches each event against the endpoint configurations (cached, see
// awsapp.DefaultEndpointCacheTTL) and enqueues one delivery task per
// matching endpoint on that endpoint's SQS queue.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/awsapp/filterfn"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	cfg, err := awsapp.FromEnv(os.Getenv)
	if err != nil {
		slog.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := awsapp.LambdaAWSConfig(os.Getenv)
	if err != nil {
		slog.Error("AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(filterfn.Handler(awsapp.New(cfg, awsCfg, awsapp.Options{})).Handle)
}
