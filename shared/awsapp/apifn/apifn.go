// Package apifn builds the management function's handler: the /v1 API
// (package api) over the manage service, with the control plane (package
// provision) when the configuration names the DLQ and the deliver
// function. Apart from package awsapp so the data-plane Lambdas don't link
// it.
package apifn

import (
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/phoneshield/webhooks/shared/api"
	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/provision"
)

// Service returns the management service over a's adapters.
func Service(a *awsapp.App) *manage.Service {
	cfg := a.Config
	svc := &manage.Service{
		Endpoints: a.Store, Log: a.Store, DeadLetters: a.DeadLetters, Plan: cfg.Plan, URLs: a.Guard, AllowHTTP: cfg.AllowHTTP,
		Queue: a.Queue, QueueName: awsapp.QueueName, Tester: a.Deliverer, Now: a.Now,
	}
	if cfg.DLQARN != "" && cfg.DeliverFunction != "" {
		svc.Provision = provision.New(a.SQS, lambda.NewFromConfig(a.AWS), provision.Config{
			Prefix: cfg.QueuePrefix, DLQARN: cfg.DLQARN, DeliverFunction: cfg.DeliverFunction, MaxConcurrency: cfg.MaxConcurrency,
		})
	}
	return svc
}

// Handler returns the API Gateway handler of svc.
func Handler(a *awsapp.App, svc *manage.Service) *handler.API {
	return &handler.API{Handler: api.Handler(svc, a.Logger)}
}
