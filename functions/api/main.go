// Command api is the management Lambda: the /v1 management API behind API
// Gateway (HTTP API, payload format 2.0, IAM authorization). It runs the
// same http.Handler local mode serves, with the control plane that
// creates and removes each endpoint's queue and event source mapping.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/awsapp/apifn"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	cfg, err := awsapp.FromEnv(os.Getenv)
	if err == nil {
		err = cfg.RequireControlPlane()
	}
	if err != nil {
		slog.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := awsapp.LambdaAWSConfig(os.Getenv)
	if err != nil {
		slog.Error("AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	app := awsapp.New(cfg, awsCfg, awsapp.Options{})
	lambda.Start(apifn.Handler(app, apifn.Service(app)).Handle)
}
