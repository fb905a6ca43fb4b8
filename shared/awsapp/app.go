package awsapp

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/dynamo"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/handler"
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
	Logger     *slog.Logger     // default: slog.Default()
}

// App holds the configuration, the SDK clients and the adapters shared by
// the functions. Each function builds its handler from it: Deliver here,
// the filter's in package filterfn and the management API's in package
// apifn — separate packages so a Lambda links only what it runs (the
// filter engine's phone-number metadata, for one, is ~10 MB).
type App struct {
	Config      Config
	AWS         aws.Config
	Options     Options
	Logger      *slog.Logger
	Now         func() time.Time
	Store       *dynamo.Store
	SQS         *awssqs.Client
	Queue       *sqs.Queue
	DeadLetters *sqs.DeadLetters
	Deliverer   *delivery.Deliverer
	Guard       *egress.Guard
}

// QueueName maps an endpoint id to its queue name (the SQS adapter adds
// the stack's prefix).
func QueueName(endpointID string) string { return endpointID }

// New builds the clients and adapters from cfg. It makes no AWS call:
// clients are built once, here, at init; connections open on first use.
func New(cfg Config, awsCfg aws.Config, opts Options) *App {
	a := &App{Config: cfg, AWS: awsCfg, Options: opts, Logger: opts.Logger, Now: opts.Now}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	if a.Now == nil {
		a.Now = time.Now
	}
	a.Store = dynamo.New(dynamodb.NewFromConfig(awsCfg), dynamo.Tables{
		Endpoints: cfg.EndpointsTable, Keys: cfg.DeliveriesTable, Deliveries: cfg.DeliveriesTable, RateLimits: cfg.RateLimitsTable,
	}, dynamo.Options{Now: a.Now})
	a.SQS = awssqs.NewFromConfig(awsCfg)
	qopts := sqs.Options{Prefix: cfg.QueuePrefix, DLQURL: cfg.DLQURL, Now: a.Now}
	a.Queue, a.DeadLetters = sqs.New(a.SQS, qopts), sqs.NewDeadLetters(a.SQS, qopts)
	a.Guard = egress.New(opts.Allow...)
	a.Deliverer = &delivery.Deliverer{
		Endpoints: a.Store, Keys: a.Store, Log: a.Store, Queue: a.Queue, DeadLetters: a.DeadLetters, Limiter: a.Store,
		HTTP: sender.New(sender.Options{Guard: a.Guard, TLSConfig: opts.TLSConfig}),
		Plan: cfg.Plan, QueueName: QueueName, LogTTL: cfg.LogTTL, RetryScale: opts.RetryScale, Now: a.Now, Logger: a.Logger,
	}
	return a
}

// Deliver returns the delivery function's handler.
func (a *App) Deliver() *handler.Deliver {
	return &handler.Deliver{Deliverer: a.Deliverer, Logger: a.Logger}
}
