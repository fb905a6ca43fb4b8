package awsapp

import (
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestFromEnv(t *testing.T) {
	good := Config{Plan: webhook.Business, EndpointsTable: "e", DeliveriesTable: "d", RateLimitsTable: "r",
		QueuePrefix: "ps-", DLQURL: "https://sqs/dlq", LogTTL: 7 * 24 * time.Hour, EndpointCacheTTL: time.Second}
	got, err := FromEnv(func(k string) string { return good.Env()[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan.Name != "business" || got.LogTTL != good.LogTTL || got.EndpointCacheTTL != time.Second || got.QueuePrefix != "ps-" {
		t.Errorf("round trip = %+v", got)
	}
	for _, tc := range []struct {
		key, value, wantInErr string
	}{
		{EnvPlan, "gold", EnvPlan},
		{EnvEndpointsTable, "", EnvEndpointsTable},
		{EnvDLQURL, "", EnvDLQURL},
		{EnvLogTTLDays, "0", EnvLogTTLDays},
		{EnvLogTTLDays, "x", EnvLogTTLDays},
		{EnvEndpointCacheTTL, "1h", EnvEndpointCacheTTL},
		{EnvAllowHTTP, "yes", EnvAllowHTTP},
	} {
		env := good.Env()
		env[tc.key] = tc.value
		_, err := FromEnv(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
			t.Errorf("%s=%q: err = %v, want one naming %s", tc.key, tc.value, err, tc.wantInErr)
		}
	}
}
