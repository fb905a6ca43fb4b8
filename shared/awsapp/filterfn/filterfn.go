// Package filterfn builds the filter function's handler (EventBridge rule
// target): the fan-out with its endpoint cache and custom filters. It is
// apart from package awsapp so only the filter Lambda links the filter
// engine.
package filterfn

import (
	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/fanout"
	"github.com/phoneshield/webhooks/shared/handler"
)

// Handler returns the filter handler over a's adapters.
func Handler(a *awsapp.App) *handler.Filter {
	cfg := a.Config
	return &handler.Filter{
		Fanout: &fanout.Fanout{
			Endpoints: &fanout.Cache{Store: a.Store, TTL: cfg.EndpointCacheTTL, Now: a.Now},
			Keys:      a.Store, Queue: a.Queue, Plan: cfg.Plan, QueueName: awsapp.QueueName, Logger: a.Logger,
			Log: a.Store, LogTTL: cfg.LogTTL, Now: a.Now,
		},
		DeadLetters: a.DeadLetters, Now: a.Now, Logger: a.Logger,
	}
}
