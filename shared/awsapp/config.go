// Package awsapp builds the Lambda handlers from their environment: it
// reads the configuration once (failing fast, naming the variable), builds
// the SDK clients and the DynamoDB/SQS adapters, and returns the same
// handlers local mode runs. The mains in functions/ only call it and
// lambda.Start; the CDK app (infra/) uses the Env* names to set the
// environment, so the two can't drift apart.
package awsapp

import (
	"fmt"
	"strconv"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Environment variables the functions read.
const (
	EnvPlan             = "PS_PLAN"               // standard | business | enterprise
	EnvEndpointsTable   = "PS_ENDPOINTS_TABLE"    // DynamoDB table names
	EnvDeliveriesTable  = "PS_DELIVERIES_TABLE"   // deliveries and idempotency keys
	EnvRateLimitsTable  = "PS_RATE_LIMITS_TABLE"  //
	EnvQueuePrefix      = "PS_QUEUE_PREFIX"       // per-endpoint queues are <prefix><endpoint id>
	EnvDLQURL           = "PS_DLQ_URL"            // the shared dead-letter queue
	EnvLogTTLDays       = "PS_LOG_TTL_DAYS"       // delivery log retention, default 30
	EnvEndpointCacheTTL = "PS_ENDPOINT_CACHE_TTL" // filter's endpoint cache, Go duration, default 15s
	EnvAllowHTTP        = "PS_ALLOW_HTTP"         // "true" allows http:// endpoint URLs (sandbox); default false
	// The management function's control plane (package provision):
	EnvDLQARN          = "PS_DLQ_ARN"          // the DLQ endpoint queues redrive to
	EnvDeliverFunction = "PS_DELIVER_FUNCTION" // the function their event source mappings invoke
	EnvMaxConcurrency  = "PS_MAX_CONCURRENCY"  // each mapping's MaximumConcurrency, default 2
)

// Config is the functions' configuration.
type Config struct {
	Plan             webhook.Plan
	EndpointsTable   string
	DeliveriesTable  string
	RateLimitsTable  string
	QueuePrefix      string
	DLQURL           string
	LogTTL           time.Duration
	EndpointCacheTTL time.Duration
	AllowHTTP        bool
	// Control plane (management function only; empty elsewhere).
	DLQARN          string
	DeliverFunction string
	MaxConcurrency  int32
}

// DefaultEndpointCacheTTL bounds how stale the filter's view of endpoint
// configurations may be: a change made through the API reaches matching
// within this time on every warm filter instance.
const DefaultEndpointCacheTTL = 15 * time.Second

// FromEnv reads the configuration with getenv (os.Getenv), naming the
// variable in any error.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{LogTTL: 30 * 24 * time.Hour, EndpointCacheTTL: DefaultEndpointCacheTTL}
	plan, err := webhook.PlanNamed(getenv(EnvPlan))
	if err != nil {
		return c, fmt.Errorf("%s: %w", EnvPlan, err)
	}
	c.Plan = plan
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{EnvEndpointsTable, &c.EndpointsTable}, {EnvDeliveriesTable, &c.DeliveriesTable},
		{EnvRateLimitsTable, &c.RateLimitsTable}, {EnvQueuePrefix, &c.QueuePrefix}, {EnvDLQURL, &c.DLQURL},
	} {
		if *v.dst = getenv(v.name); *v.dst == "" {
			return c, fmt.Errorf("%s: required", v.name)
		}
	}
	if s := getenv(EnvLogTTLDays); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3650 {
			return c, fmt.Errorf("%s: must be a number of days 1..3650, got %q", EnvLogTTLDays, s)
		}
		c.LogTTL = time.Duration(n) * 24 * time.Hour
	}
	if s := getenv(EnvEndpointCacheTTL); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > 5*time.Minute {
			return c, fmt.Errorf("%s: must be a duration up to 5m, got %q", EnvEndpointCacheTTL, s)
		}
		c.EndpointCacheTTL = d
	}
	switch s := getenv(EnvAllowHTTP); s {
	case "", "false":
	case "true":
		c.AllowHTTP = true
	default:
		return c, fmt.Errorf("%s: must be true or false, got %q", EnvAllowHTTP, s)
	}
	c.DLQARN, c.DeliverFunction = getenv(EnvDLQARN), getenv(EnvDeliverFunction)
	c.MaxConcurrency = 2
	if s := getenv(EnvMaxConcurrency); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 || n > 1000 {
			return c, fmt.Errorf("%s: must be 2..1000 (Lambda's range), got %q", EnvMaxConcurrency, s)
		}
		c.MaxConcurrency = int32(n)
	}
	return c, nil
}

// RequireControlPlane checks the variables only the management function
// needs.
func (c Config) RequireControlPlane() error {
	if c.DLQARN == "" {
		return fmt.Errorf("%s: required by the management function", EnvDLQARN)
	}
	if c.DeliverFunction == "" {
		return fmt.Errorf("%s: required by the management function", EnvDeliverFunction)
	}
	return nil
}

// Env returns the environment that makes FromEnv return c (for the CDK
// app and tests).
func (c Config) Env() map[string]string {
	return map[string]string{
		EnvPlan: c.Plan.Name, EnvEndpointsTable: c.EndpointsTable, EnvDeliveriesTable: c.DeliveriesTable,
		EnvRateLimitsTable: c.RateLimitsTable, EnvQueuePrefix: c.QueuePrefix, EnvDLQURL: c.DLQURL,
		EnvLogTTLDays:       strconv.Itoa(int(c.LogTTL / (24 * time.Hour))),
		EnvEndpointCacheTTL: c.EndpointCacheTTL.String(), EnvAllowHTTP: strconv.FormatBool(c.AllowHTTP),
	}
}

// ControlPlaneEnv returns the extra variables of the management function.
func (c Config) ControlPlaneEnv() map[string]string {
	return map[string]string{EnvDLQARN: c.DLQARN, EnvDeliverFunction: c.DeliverFunction,
		EnvMaxConcurrency: strconv.Itoa(int(c.MaxConcurrency))}
}
