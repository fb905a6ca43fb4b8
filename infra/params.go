package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Context keys (cdk.json "context", or `cdk synth -c key=value`).
const (
	CtxPlan                 = "plan"
	CtxEnvironment          = "environment"
	CtxAlarmEmail           = "alarmEmail"
	CtxLogRetentionDays     = "logRetentionDays"
	CtxDeliveryLogTTLDays   = "deliveryLogTtlDays"
	CtxArchiveRetentionDays = "archiveRetentionDays"
	CtxStaticEgressIPs      = "staticEgressIps"
)

// Deployment environments (context key "environment").
const (
	EnvProduction = webhook.EnvProduction
	EnvSandbox    = webhook.EnvSandbox
)

// Params are the deployment's settings, read from the CDK context. A key
// that is absent takes its default (the same values cdk.json spells out).
type Params struct {
	// Plan sets PS_PLAN and sizes the functions' reserved concurrency.
	Plan webhook.Plan
	// Environment is production (tables kept on stack deletion and
	// protected from deletion; https:// endpoint URLs only) or sandbox
	// (tables deleted with the stack; http:// URLs allowed).
	Environment string
	// AlarmEmail, when set, is subscribed to the alarm topic.
	AlarmEmail string
	// LogRetentionDays is the retention of every log group; one of the
	// values CloudWatch Logs accepts.
	LogRetentionDays int
	// DeliveryLogTTLDays is how long delivery log records are kept
	// (PS_LOG_TTL_DAYS; DynamoDB TTL).
	DeliveryLogTTLDays int
	// ArchiveRetentionDays is how long the EventBridge archive keeps
	// events for replay; 0 keeps them indefinitely.
	ArchiveRetentionDays int
	// StaticEgressIPs runs the delivery function in a VPC behind NAT
	// gateways with two Elastic IPs, so receivers can allow-list them.
	StaticEgressIPs bool
}

// DefaultParams are the settings when the context sets nothing.
func DefaultParams() Params {
	return Params{
		Plan:                 webhook.Business,
		Environment:          EnvProduction,
		LogRetentionDays:     30,
		DeliveryLogTTLDays:   30,
		ArchiveRetentionDays: 30,
	}
}

// logRetentionDays are the retentions CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// ParamsFromContext reads the parameters with get (the construct node's
// TryGetContext), which returns nil for an absent key. Values may be JSON
// typed (cdk.json) or strings (`-c key=value`). An invalid value is an
// error naming the context key.
func ParamsFromContext(get func(key string) any) (Params, error) {
	p := DefaultParams()
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("context %q: %s, got %v", key, want, v)
	}
	if v := get(CtxPlan); v != nil {
		plan, err := webhook.PlanNamed(fmt.Sprint(v))
		if err != nil {
			return p, bad(CtxPlan, v, "must be standard, business or enterprise")
		}
		p.Plan = plan
	}
	if v := get(CtxEnvironment); v != nil {
		switch s := fmt.Sprint(v); s {
		case EnvProduction, EnvSandbox:
			p.Environment = s
		default:
			return p, bad(CtxEnvironment, v, "must be production or sandbox")
		}
	}
	if v := get(CtxAlarmEmail); v != nil {
		s, ok := v.(string)
		if !ok || (s != "" && !emailRE.MatchString(s)) {
			return p, bad(CtxAlarmEmail, v, "must be an email address (or empty for none)")
		}
		p.AlarmEmail = s
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
		allowed  []int
	}{
		{CtxLogRetentionDays, &p.LogRetentionDays, 1, 3653, logRetentionDays},
		{CtxDeliveryLogTTLDays, &p.DeliveryLogTTLDays, 1, 3650, nil},
		{CtxArchiveRetentionDays, &p.ArchiveRetentionDays, 0, 3650, nil},
	}
	for _, f := range ints {
		v := get(f.key)
		if v == nil {
			continue
		}
		n, ok := asInt(v)
		switch {
		case !ok || n < f.min || n > f.max:
			return p, bad(f.key, v, fmt.Sprintf("must be a whole number of days %d..%d", f.min, f.max))
		case f.allowed != nil && !slices.Contains(f.allowed, n):
			return p, bad(f.key, v, "must be one of the retentions CloudWatch Logs accepts: "+joinInts(f.allowed))
		}
		*f.dst = n
	}
	if v := get(CtxStaticEgressIPs); v != nil {
		switch v {
		case true, "true":
			p.StaticEgressIPs = true
		case false, "false":
			p.StaticEgressIPs = false
		default:
			return p, bad(CtxStaticEgressIPs, v, "must be true or false")
		}
	}
	return p, nil
}

// asInt accepts a JSON number without a fraction or a decimal string.
func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			return 0, false
		}
		return int(x), true
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
