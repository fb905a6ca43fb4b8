// Command api is the management Lambda: the /v1 management API behind API
// Gateway (HTTP API, payload format 2.0, IAM authorization). It runs the
// same http.Handler local mode serves, with the control plane that
// creates and removes each endpoint's queue and event source mapping.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/awsapp/apifn"
)

func main() {
	cfg, awsCfg := awsapp.MustLoad(true)
	app := awsapp.New(cfg, awsCfg, awsapp.Options{})
	lambda.Start(apifn.Handler(app, apifn.Service(app)).Handle)
}
