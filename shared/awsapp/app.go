package awsapp

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/phoneshield/webhooks/shared/api"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/dynamo"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/fanout"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/provision"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/sqs"
)

// Options are what tests change; the Lambdas use the zero value.
type Options struct {
	// Allow lists address ranges the SSRF guard lets through (tests use
	// loopback); on AWS it is empty.
	Allow      []netip.Prefix
	TLSConfig  *tls.Config
	RetryScale float64          // multiply retry delays (tests)
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default: JSON to stderr
}

// App holds the handlers and the adapters behind them.
type App struct {
	Filter      *handler.Filter
	Deliver     *handler.Deliver
	Store       *dynamo.Store
	Queue       *sqs.Queue
	DeadLetters *sqs.DeadLetters
	Deliverer   *delivery.Deliverer
	// Service and API are the management API; the control plane is set
	// only when the configuration has one (the management function).
	Service *manage.Service
	API     *handler.API
}

// New builds the adapters and handlers from cfg. It makes no AWS call:
// clients are built once, here, at init; connections open on first use.
func New(cfg Config, awsCfg aws.Config, opts Options) *App {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), dynamo.Tables{
		Endpoints: cfg.EndpointsTable, Keys: cfg.DeliveriesTable, Deliveries: cfg.DeliveriesTable, RateLimits: cfg.RateLimitsTable,
	}, dynamo.Options{Now: now})
	sqsClient := awssqs.NewFromConfig(awsCfg)
	qopts := sqs.Options{Prefix: cfg.QueuePrefix, DLQURL: cfg.DLQURL, Now: now}
	queue, dlq := sqs.New(sqsClient, qopts), sqs.NewDeadLetters(sqsClient, qopts)
	queueName := func(endpointID string) string { return endpointID } // the adapter adds the prefix
	d := &delivery.Deliverer{
		Endpoints: store, Keys: store, Log: store, Queue: queue, DeadLetters: dlq, Limiter: store,
		HTTP: sender.New(sender.Options{Guard: egress.New(opts.Allow...), TLSConfig: opts.TLSConfig}),
		Plan: cfg.Plan, QueueName: queueName, LogTTL: cfg.LogTTL, RetryScale: opts.RetryScale, Now: now, Logger: log,
	}
	guard := egress.New(opts.Allow...)
	svc := &manage.Service{
		Endpoints: store, Log: store, DeadLetters: dlq, Plan: cfg.Plan, URLs: guard, AllowHTTP: cfg.AllowHTTP,
		Queue: queue, QueueName: queueName, Tester: d, Now: now,
	}
	if cfg.DLQARN != "" && cfg.DeliverFunction != "" {
		svc.Provision = provision.New(sqsClient, lambda.NewFromConfig(awsCfg), provision.Config{
			Prefix: cfg.QueuePrefix, DLQARN: cfg.DLQARN, DeliverFunction: cfg.DeliverFunction, MaxConcurrency: cfg.MaxConcurrency,
		})
	}
	return &App{
		Service: svc,
		API:     &handler.API{Handler: api.Handler(svc, log)},
		Filter: &handler.Filter{
			Fanout: &fanout.Fanout{
				Endpoints: &fanout.Cache{Store: store, TTL: cfg.EndpointCacheTTL, Now: now},
				Keys:      store, Queue: queue, Plan: cfg.Plan, QueueName: queueName, Logger: log,
				Log: store, LogTTL: cfg.LogTTL, Now: now,
			},
			DeadLetters: dlq, Now: now, Logger: log,
		},
		Deliver:     &handler.Deliver{Deliverer: d, Logger: log},
		Store:       store,
		Queue:       queue,
		DeadLetters: dlq,
		Deliverer:   d,
	}
}
