// Package apifn builds the management function's handler: the /v1 API
// (package api) over the manage service, with the control plane (package
// provision) when the configuration names the DLQ and the deliver
// function, and the control plane's periodic reconcile. Apart from package
// awsapp so the data-plane Lambdas don't link it.
package apifn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
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

// Function is the management function's handler.
type Function struct {
	api *handler.API
	svc *manage.Service
	log *slog.Logger
}

// Handler returns the handler of the management function over svc.
func Handler(a *awsapp.App, svc *manage.Service) *Function {
	return &Function{api: &handler.API{Handler: api.Handler(svc, a.Logger)}, svc: svc, log: a.Logger}
}

// reconciler is the control plane's periodic repair (provision.Provisioner).
type reconciler interface {
	Reconcile(ctx context.Context, endpointIDs []string) (provision.Report, error)
}

// Handle serves one invocation: an API Gateway request (HTTP API, payload
// format 2.0) is served by the /v1 API; an EventBridge "Scheduled Event"
// (the stack's schedule) runs Reconcile.
func (f *Function) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.Source == "aws.events" && probe.DetailType == "Scheduled Event" {
		return nil, f.Reconcile(ctx)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil || req.Version != "2.0" || req.RequestContext.HTTP.Method == "" {
		// Any JSON object unmarshals: served, another event (or payload
		// format 1.0) would be a GET of "" that succeeds.
		// Named by its kind only: its text could hold credentials (a
		// payload 1.0 request's headers).
		var kind struct {
			Version    string `json:"version"`
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
		}
		_ = json.Unmarshal(raw, &kind)
		return nil, fmt.Errorf("management: neither the schedule's event nor an API Gateway request (payload format 2.0): version %q, source %q, detail-type %q",
			kind.Version, kind.Source, kind.DetailType)
	}
	return f.api.Handle(ctx, req)
}

// Reconcile makes the endpoint queues and their event source mappings
// match the endpoints (provision.Provisioner.Reconcile, with the full
// list): missing ones created, drift repaired, and the queues of deleted
// endpoints removed once their tasks have drained to the DLQ. Without a
// control plane (a deployment that provisions no queues) it does nothing.
func (f *Function) Reconcile(ctx context.Context) error {
	p, ok := f.svc.Provision.(reconciler)
	if !ok {
		return nil
	}
	eps, err := f.svc.Endpoints.ListEndpoints(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: list endpoints: %w", err)
	}
	ids := make([]string, len(eps))
	for i, ep := range eps {
		ids[i] = ep.ID
	}
	r, err := p.Reconcile(ctx, ids)
	switch {
	case err != nil:
		f.log.Error("reconcile failed", "did", r.String(), "error", err.Error())
		return errors.Join(errors.New("reconcile"), err)
	case r.Changed() || len(r.Draining) > 0:
		f.log.Info("reconciled", "did", r.String())
	}
	return nil
}
