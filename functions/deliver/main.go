// Command deliver is the delivery Lambda: the SQS event source of every
// endpoint queue (ReportBatchItemFailures). It signs and POSTs each task,
// logs the attempt, and schedules the retry or dead-letters the delivery.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/awsapp"
)

func main() {
	cfg, awsCfg := awsapp.MustLoad(false)
	lambda.Start(awsapp.New(cfg, awsCfg, awsapp.Options{}).Deliver().Handle)
}
