package apifn

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/phoneshield/webhooks/shared/api"
	"github.com/phoneshield/webhooks/shared/bolt"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/provision"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// recordingProvisioner records the control plane's calls (package
// provision is tested against moto on its own).
type recordingProvisioner struct{ reconciled [][]string }

func (*recordingProvisioner) Create(context.Context, string) error { return nil }
func (*recordingProvisioner) Delete(context.Context, string) error { return nil }
func (p *recordingProvisioner) Reconcile(_ context.Context, ids []string) (provision.Report, error) {
	p.reconciled = append(p.reconciled, slices.Sorted(slices.Values(ids)))
	return provision.Report{Draining: []string{"whk_gone"}}, nil
}

// TestScheduleRunsReconcile: the stack's schedule (an EventBridge
// "Scheduled Event") makes the management function reconcile the queues
// with every endpoint; an API Gateway request is served by the API.
func TestScheduleRunsReconcile(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, id := range []string{"whk_b", "whk_a"} {
		ep := webhooktest.NewEndpoint(id)
		if err := db.CreateEndpoint(t.Context(), ep); err != nil {
			t.Fatal(err)
		}
	}
	prov := &recordingProvisioner{}
	svc := &manage.Service{Endpoints: db, Log: db, DeadLetters: db, Plan: webhook.Enterprise, Provision: prov}
	logs := &webhooktest.Logs{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	f := &Function{api: &handler.API{Handler: api.Handler(svc, log)}, svc: svc, log: log}
	invoke := lambda.NewHandler(f.Handle).Invoke

	scheduled := `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",` +
		`"account":"123456789012","time":"2026-11-27T16:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/reconcile"],"detail":{}}`
	if _, err := invoke(t.Context(), []byte(scheduled)); err != nil {
		t.Fatal(err)
	}
	if got := prov.reconciled; len(got) != 1 || !slices.Equal(got[0], []string{"whk_a", "whk_b"}) {
		t.Errorf("reconciled %v, want once with every endpoint", got)
	}
	if out := logs.String(); !strings.Contains(out, `"did":"draining whk_gone"`) {
		t.Errorf("log = %s; want what the reconcile did", out)
	}

	req, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/v1/webhooks",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/webhooks"}}})
	out, err := invoke(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /v1/webhooks through the function = %s (%v), want 200", out, err)
	}
	if len(prov.reconciled) != 1 {
		t.Error("an API request reconciled")
	}

	// Anything else is an error: any JSON object unmarshals into a
	// request, and was served as a successful GET of "".
	for name, ev := range map[string]string{
		"empty object": `{}`,
		"null":         `null`,
		"another EventBridge event": `{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3",` +
			`"account":"123456789012","time":"2026-11-27T16:00:00Z","region":"us-east-1","resources":[],"detail":{}}`,
		"API Gateway payload 1.0": `{"version":"1.0","resource":"$default","path":"/v1/webhooks/whk_a","httpMethod":"DELETE",` +
			`"headers":{},"requestContext":{"httpMethod":"DELETE","path":"/v1/webhooks/whk_a"},"body":null,"isBase64Encoded":false}`,
	} {
		if out, err := invoke(t.Context(), []byte(ev)); err == nil {
			t.Errorf("%s: served: %s; want an error", name, out)
		}
	}
	if len(prov.reconciled) != 1 {
		t.Error("another event reconciled")
	}
}
