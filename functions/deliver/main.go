// Command deliver is the delivery Lambda: the SQS event source of every
// endpoint queue (ReportBatchItemFailures). It signs and POSTs each task,
// logs the attempt, and schedules the retry or dead-letters the delivery.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/awsapp"
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
	lambda.Start(awsapp.New(cfg, awsCfg, awsapp.Options{}).Deliver().Handle)
}
