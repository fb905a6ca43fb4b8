package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/api"
	"github.com/phoneshield/webhooks/shared/apiclient"
	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestUsageErrors(t *testing.T) {
	c := cli{t: t, url: "http://127.0.0.1:1"} // never reached
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"webhooks"}, "webhooks: missing subcommand"},
		{[]string{"webhooks", "frob"}, `unknown subcommand "frob"`},
		{[]string{"webhooks", "get"}, "webhooks get: missing ID"},
		{[]string{"webhooks", "get", "a", "b"}, `unexpected argument "b"`},
		{[]string{"webhooks", "delivery", "whk_1"}, "missing DELIVERY_ID"},
		{[]string{"webhooks", "list", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"--timeout", "0s", "plan"}, "--timeout: must be positive"},
		{[]string{"--url", "ftp://x", "plan"}, "--url: must be an http:// or https:// URL"},
		{[]string{"webhooks", "create", "--url", "http://x", "--retry-delays", "soon"}, "--retry-delays"},
		{[]string{"webhooks", "create", "--filter", "[1]"}, "--filter: must be a JSON object"},
		{[]string{"webhooks", "update", "whk_1"}, "nothing to change"},
		{[]string{"webhooks", "deliveries", "whk_1", "--since", "yesterday"}, "--since: want an RFC 3339 time"},
		{[]string{"webhooks", "deliveries", "whk_1", "--limit", "5000"}, "--limit"},
		{[]string{"dlq", "redrive"}, "say which dead letters"},
		{[]string{"dlq", "redrive", "dl_1", "--all"}, "an ID excludes"},
		{[]string{"dlq", "purge", "--all"}, "add --yes"},
		{[]string{"events", "send"}, "missing TYPE"},
		{[]string{"events", "send", "call.exploded"}, "unknown event type"},
		{[]string{"events", "send", "call.completed", "--detail", "{nope"}, "--detail: must be a JSON object"},
		{[]string{"events", "send", "call.completed", "--detail", "@/nonexistent/file.json"}, "--detail"},
		{[]string{"filters", "test"}, "give one of --filter and --filter-text"},
		{[]string{"help", "nope"}, `unknown command "nope"`},
	} {
		r := c.run(tc.args...)
		r.want(t, ExitUsage, tc.stderr)
		if !strings.HasPrefix(r.errOut, "webhookctl: ") && tc.args != nil {
			t.Errorf("%v: stderr = %q, want webhookctl: prefix", tc.args, r.errOut)
		}
	}
}

// TestDoubleDash: after "--" every argument is positional, even one
// starting with "-" (the flag package drops the "--" it stops at, which
// the parser used to look for, so it never stopped).
func TestDoubleDash(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.EscapedPath())
		w.Write([]byte(`{"id":"d"}`))
	}))
	defer srv.Close()
	c := cli{t: t, url: srv.URL}
	c.run("webhooks", "delivery", "--", "-whk", "-dlv").want(t, 0)
	if want := []string{"/v1/webhooks/-whk/deliveries/-dlv"}; !slices.Equal(paths, want) {
		t.Errorf("requested %v, want %v", paths, want)
	}
}

func TestHelp(t *testing.T) {
	c := cli{t: t, url: "http://127.0.0.1:1"}
	r := c.run("help")
	r.want(t, 0)
	r.has(t, "Exit codes:", "3  not found (404)", "4  conflict", "5  plan limit", "6  unavailable", "--stack NAME", "ApiUrl", "EventBusName")
	for _, cmd := range commands() {
		r.has(t, cmd.name)
	}
	c.run("--help").want(t, 0)
	r = c.run("webhooks", "create", "--help")
	r.want(t, 0)
	r.has(t, "usage: webhookctl webhooks create", "--event-type", "--retry-delays", "Global flags")
	r = c.run("help", "dlq", "redrive")
	r.want(t, 0)
	r.has(t, "usage: webhookctl dlq redrive", "--limit")
}

func TestWebhooksLifecycle(t *testing.T) {
	_, c := startLocal(t, webhook.Enterprise)
	rcv := receiver(t)

	c.ok("webhooks", "list")
	r := c.run("webhooks", "create", "--url", rcv.URL(), "--event-type", "call.*", "--event-types", "voicemail.recorded,user.created",
		"--description", "CRM sync", "--header", "X-Team: support", "--header", "X-Env=test", "--retry-delays", "1,2s,1m")
	r.want(t, 0, "store the secret now")
	r.has(t, "CRM sync", "call.*, voicemail.recorded, user.created", "X-Env: test; X-Team: support", "3 retries: 1s, 2s, 1m0s", "secret:")
	secret := field(r.out, "secret")
	id := field(r.out, "id")
	if !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(id, "whk_") {
		t.Fatalf("create printed id %q secret %q:\n%s", id, secret, r.out)
	}
	rcv.SetSecret(secret)

	// Only create and rotate-secret print secrets.
	for _, args := range [][]string{{"webhooks", "list"}, {"webhooks", "get", id}, {"--json", "webhooks", "list"}, {"--json", "webhooks", "get", id}} {
		out := c.ok(args...)
		if strings.Contains(out, "whsec_") || !strings.Contains(out, id) {
			t.Fatalf("%v printed a secret or no id:\n%s", args, out)
		}
	}
	var list apiclient.List[apiclient.Endpoint]
	c.json(&list, "webhooks", "list")
	if len(list.Data) != 1 || list.Data[0].ID != id || list.Data[0].Version != 1 {
		t.Fatalf("list = %+v", list)
	}
	var created apiclient.Endpoint
	c.json(&created, "webhooks", "create", "--url", rcv.URL()+"/2", "--event-type", "*")
	if !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create --json has no secret: %+v", created)
	}
	c.ok("webhooks", "delete", created.ID)

	// Update, optimistic concurrency, field errors.
	r = c.run("webhooks", "update", id, "--description", "CRM sync v2", "--version", "1", "--max-retries", "2")
	r.want(t, 0)
	r.has(t, "CRM sync v2", "version:     2", "2 retries (default delays)")
	c.run("webhooks", "update", id, "--description", "stale", "--version", "1").want(t, ExitConflict, "webhookctl: version: the webhook is at version 2")
	c.run("webhooks", "update", id, "--max-retries", "9").want(t, ExitError, "webhookctl: retry.max_retries: must be between 0 and 5")
	c.run("webhooks", "create", "--url", "http://127.0.0.1:9/x", "--event-type", "call.nope").want(t, ExitError, "webhookctl: event_types[0]: ")
	c.run("webhooks", "create", "--event-type", "call.*").want(t, ExitError, "webhookctl: url: required")
	c.run("webhooks", "update", id, "--status", "paused").want(t, ExitError, "webhookctl: status: must be active or inactive")
	r = c.runIn(`{"description":"from stdin","status":"inactive"}`, "webhooks", "update", id, "--from", "-", "--status", "active")
	r.want(t, 0)
	r.has(t, "from stdin", "status:      active")
	r = c.run("webhooks", "update", id, "--no-headers")
	r.want(t, 0)
	r.has(t, "headers:     -")

	// Enable, disable.
	c.run("webhooks", "disable", id).has(t, "status:      inactive")
	var ep apiclient.Endpoint
	c.json(&ep, "webhooks", "enable", id)
	if ep.Status != "active" {
		t.Fatalf("enable: status %s", ep.Status)
	}

	// A test event, signed with the secret.
	r = c.run("webhooks", "test", id, "--event-type", "call.completed")
	r.want(t, 0)
	r.has(t, "status:   200 OK", "X-Phoneshield-Event-Type:", "call.completed")
	if strings.Contains(r.out, "request body") || strings.Contains(r.out, "whsec_") {
		t.Fatalf("test printed the body without --body, or a secret:\n%s", r.out)
	}
	var tr apiclient.TestResult
	c.json(&tr, "webhooks", "test", id, "voicemail.recorded", "--detail", `{"data":{"voicemail_id":"vm_1","phone_number":"+15551234567","caller_number":"+14155550142","recorded_at":"2026-01-01T00:00:00Z","duration_seconds":12}}`)
	if tr.StatusCode != 200 || !strings.Contains(tr.Request.Body, `"voicemail_id":"vm_1"`) {
		t.Fatalf("test with detail = %+v", tr)
	}
	c.run("webhooks", "test", id, "--event-type", "call.bogus").want(t, ExitError, "webhookctl: event_type: unknown event type")
	rcv.Fail = func(string, int) int { return http.StatusInternalServerError }
	r = c.run("webhooks", "test", id, "--event-type", "call.completed")
	r.want(t, ExitError, "webhookctl: test delivery failed: HTTP 500")
	r.has(t, "500 Internal Server Error")
	rcv.Fail = nil

	// Rotation: a new secret, shown once, with a warning.
	r = c.run("webhooks", "rotate-secret", id, "--overlap-hours", "1")
	r.want(t, 0, "store the new secret now")
	newSecret := field(r.out, "secret")
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == secret || !strings.Contains(r.out, "previous secret expires:") {
		t.Fatalf("rotate-secret printed:\n%s", r.out)
	}
	rcv.SetSecret(newSecret)
	c.ok("webhooks", "test", id, "--event-type", "call.completed")
	var rot apiclient.RotateResult
	c.json(&rot, "webhooks", "rotate-secret", id, "--overlap-hours", "0")
	if !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotate-secret --json = %+v", rot)
	}

	// Delete; then everything about it is not found.
	c.run("webhooks", "delete", id).has(t, "deleted "+id)
	for _, args := range [][]string{
		{"webhooks", "get", id}, {"webhooks", "delete", id}, {"webhooks", "enable", id},
		{"webhooks", "update", id, "--description", "x"}, {"webhooks", "rotate-secret", id},
		{"webhooks", "test", id, "--event-type", "call.completed"}, {"webhooks", "deliveries", id},
	} {
		c.run(args...).want(t, ExitNotFound, "webhookctl: webhook "+id+" not found")
	}
	c.run("webhooks", "get", "whk_missing").want(t, ExitNotFound, "webhookctl: webhook whk_missing not found")
}

// sampleDetail returns the catalog sample's detail JSON.
func sampleDetail(t *testing.T, eventType string) string {
	e, err := catalog.Sample(eventType)
	if err != nil {
		t.Fatal(err)
	}
	return e.Detail
}

// field reads "name: value" from a key/value listing.
func field(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestEventsAndDeliveries(t *testing.T) {
	_, c := startLocal(t, webhook.Enterprise)
	rcv := receiver(t)
	ep := c.subscribe(rcv, "call.*,voicemail.recorded")

	r := c.run("events", "send", "call.completed", "--event-id", "evt_cli_1")
	r.want(t, 0)
	r.has(t, "sent:", "call.completed", "evt_cli_1", "eventbridge id:")
	// The sample again, with a fresh id each time: not a duplicate.
	c.ok("events", "send", "call.completed")
	// A detail from a file.
	file := filepath.Join(t.TempDir(), "detail.json")
	os.WriteFile(file, []byte(`{"event_id":"evt_cli_vm","data":{"voicemail_id":"vm_9","phone_number":"+15551234567","caller_number":"+14155550142","recorded_at":"2026-01-01T00:00:00Z","duration_seconds":30}}`), 0o600)
	var put apiclient.PutEventsResult
	c.json(&put, "events", "send", "voicemail.recorded", "--detail", file)
	if put.FailedEntryCount != 0 || len(put.Entries) != 1 || put.Entries[0].EventID == "" {
		t.Fatalf("events send --json = %+v", put)
	}
	// An invalid detail names the field.
	c.runIn(`{"data":{"call_id":7}}`, "events", "send", "call.completed", "--detail", "-").want(t, ExitError, "webhookctl: Detail: detail.data.call_id")

	var deliveries apiclient.List[apiclient.Delivery]
	eventually(t, 20*time.Second, "3 deliveries", func() bool {
		c.json(&deliveries, "webhooks", "deliveries", ep.ID, "--status", "delivered")
		return len(deliveries.Data) == 3
	})
	for _, id := range []string{"evt_cli_1", "evt_cli_vm"} {
		if got, ok := rcv.Get(id); !ok || !got.PhoneShieldOK || !got.StandardOK {
			t.Fatalf("receiver: %s = %+v, %v", id, got, ok)
		}
	}
	r = c.run("webhooks", "deliveries", ep.ID)
	r.want(t, 0)
	r.has(t, "EVENT TYPE", "evt_cli_1", "evt_cli_vm", "delivered", "200")
	r = c.run("webhooks", "deliveries", ep.ID, "--event-type", "voicemail.recorded", "--since", "1h")
	r.has(t, "evt_cli_vm")
	if strings.Contains(r.out, "evt_cli_1") {
		t.Fatalf("--event-type voicemail.recorded listed call.completed:\n%s", r.out)
	}
	c.run("webhooks", "deliveries", ep.ID, "--until", "2000-01-01T00:00:00Z").has(t, "no deliveries")
	c.run("webhooks", "deliveries", ep.ID, "--status", "lost").want(t, ExitError, "webhookctl: status: must be pending, delivered, dead_lettered or filtered")

	// Paging: one per page, then --all.
	r = c.run("webhooks", "deliveries", ep.ID, "--limit", "1")
	r.want(t, 0, "more: --cursor ")
	var all apiclient.List[apiclient.Delivery]
	c.json(&all, "webhooks", "deliveries", ep.ID, "--limit", "1", "--all")
	if len(all.Data) != 3 || all.NextCursor != "" {
		t.Fatalf("--all gave %d deliveries, next %q", len(all.Data), all.NextCursor)
	}

	var d apiclient.Delivery
	for _, x := range deliveries.Data {
		if x.EventID == "evt_cli_1" {
			d = x
		}
	}
	r = c.run("webhooks", "delivery", ep.ID, d.ID)
	r.want(t, 0)
	r.has(t, "event id:", "evt_cli_1", "status:", "delivered", "attempts:", "Webhook received")
	if strings.Contains(r.out, "request body") {
		t.Fatalf("delivery printed the body without --body")
	}
	c.run("webhooks", "delivery", ep.ID, d.ID, "--body").has(t, "request body:", `"event_id":"evt_cli_1"`)
	var one apiclient.Delivery
	c.json(&one, "webhooks", "delivery", ep.ID, d.ID)
	if one.ID != d.ID || len(one.Attempts) != 1 || one.Attempts[0].StatusCode != 200 {
		t.Fatalf("delivery --json = %+v", one)
	}
	c.run("webhooks", "delivery", ep.ID, "dlv_missing").want(t, ExitNotFound, "not found")
}

func TestEventTypesAndPlan(t *testing.T) {
	_, c := startLocal(t, webhook.Standard)
	r := c.run("event-types")
	r.want(t, 0)
	r.has(t, "NAME", "call.completed", "transcription.analyzed")
	for _, line := range strings.Split(r.out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "call.completed" && f[2] != "yes" || f[0] == "transcription.analyzed" && f[2] != "no") {
			t.Fatalf("event-types on standard: %q", line)
		}
	}
	var types apiclient.List[apiclient.EventType]
	c.json(&types, "event-types")
	if len(types.Data) != 19 {
		t.Fatalf("event-types --json: %d types", len(types.Data))
	}
	r = c.run("plan")
	r.want(t, 0)
	r.has(t, "standard", "0 of 3 used", "30 per endpoint", "call.completed, call.received, voicemail.recorded", "core call fields only")
	var p apiclient.Plan
	c.json(&p, "plan")
	if p.Name != "standard" || p.MaxEndpoints != 3 || !p.CorePayloadOnly {
		t.Fatalf("plan --json = %+v", p)
	}

	// Plan limits: exit 5.
	c.run("webhooks", "create", "--url", "http://127.0.0.1:9/a", "--event-type", "transcription.analyzed").want(t, ExitLimit, "webhookctl: event_types[0]: transcription.analyzed is not available on the standard plan")
	for i := range 3 {
		c.ok("webhooks", "create", "--url", "http://127.0.0.1:9/"+string(rune('a'+i)), "--event-type", "call.completed")
	}
	c.run("webhooks", "create", "--url", "http://127.0.0.1:9/d", "--event-type", "call.completed").want(t, ExitLimit, "allows 3 endpoints")
	c.run("plan").has(t, "3 of 3 used")
}

func TestDLQCommands(t *testing.T) {
	_, c := startLocal(t, webhook.Enterprise)
	rcv := receiver(t)
	// Two endpoints that can't be reached, without retries.
	var a, b apiclient.Endpoint
	c.json(&a, "webhooks", "create", "--url", "http://127.0.0.1:9/a", "--event-type", "call.completed", "--max-retries", "0")
	c.json(&b, "webhooks", "create", "--url", "http://127.0.0.1:9/b", "--event-type", "voicemail.recorded", "--max-retries", "0")
	for i := range 3 {
		c.ok("events", "send", "call.completed", "--event-id", "evt_dl_a"+string(rune('0'+i)))
	}
	c.ok("events", "send", "voicemail.recorded", "--event-id", "evt_dl_b")
	var counts apiclient.DLQCounts
	eventually(t, 20*time.Second, "4 dead letters", func() bool {
		c.json(&counts, "dlq", "counts")
		return counts.Total == 4
	})
	if counts.ByEndpoint[a.ID] != 3 || counts.ByEndpoint[b.ID] != 1 || counts.ByEventType["call.completed"] != 3 {
		t.Fatalf("counts = %+v", counts)
	}
	r := c.run("dlq", "counts")
	r.want(t, 0)
	r.has(t, "total: 4", "ENDPOINT", a.ID, "EVENT TYPE", "voicemail.recorded")

	r = c.run("dlq", "list", "--endpoint", a.ID)
	r.want(t, 0)
	r.has(t, "REASON", "evt_dl_a0", "evt_dl_a2", "connection refused")
	if strings.Contains(r.out, "evt_dl_b") {
		t.Fatalf("dlq list --endpoint listed another endpoint's:\n%s", r.out)
	}
	var dls apiclient.List[apiclient.DeadLetter]
	c.json(&dls, "dlq", "list", "--event-type", "voicemail.recorded")
	if len(dls.Data) != 1 || dls.Data[0].Event.ID != "evt_dl_b" {
		t.Fatalf("dlq list --event-type = %+v", dls)
	}
	c.run("dlq", "list", "--limit", "2").want(t, 0, "more: --cursor")
	c.json(&dls, "dlq", "list", "--limit", "1", "--all")
	if len(dls.Data) != 4 {
		t.Fatalf("dlq list --all: %d", len(dls.Data))
	}
	bID := ""
	for _, dl := range dls.Data {
		if dl.EndpointID == b.ID {
			bID = dl.ID
		}
	}
	r = c.run("dlq", "show", bID)
	r.want(t, 0)
	r.has(t, "evt_dl_b", "voicemail.recorded", "reason:", "attempts:", "connection refused")
	c.run("dlq", "show", bID, "--data").has(t, `"voicemail_id"`)
	c.run("dlq", "show", "dlv_missing").want(t, ExitNotFound, "webhookctl: dead letter dlv_missing not found")

	// Redrive one to a now-working URL.
	c.ok("webhooks", "update", b.ID, "--url", rcv.URL())
	var eb apiclient.Endpoint
	c.json(&eb, "webhooks", "rotate-secret", b.ID)
	rcv.SetSecret(eb.Secret)
	r = c.run("dlq", "redrive", bID)
	r.want(t, 0)
	r.has(t, "redriven 1, skipped 0, remaining 0")
	eventually(t, 20*time.Second, "the redriven letter", func() bool { _, ok := rcv.Get("evt_dl_b"); return ok })
	c.run("dlq", "redrive", bID).want(t, ExitNotFound, "not found")

	// A deleted endpoint's letters are skipped, and stay.
	c.ok("webhooks", "delete", a.ID)
	r = c.run("dlq", "redrive", "--all")
	r.want(t, 0, "3 dead letters were skipped")
	r.has(t, "redriven 0, skipped 3, remaining 0", "was deleted")
	var total bulkTotal
	c.json(&total, "dlq", "redrive", "--endpoint", a.ID)
	if total.Done != 0 || len(total.Skipped) != 3 {
		t.Fatalf("redrive --json = %+v", total)
	}
	c.json(&dls, "dlq", "list", "--endpoint", a.ID)
	c.run("dlq", "redrive", dls.Data[0].ID).want(t, ExitError, "was deleted")

	// Purge: one, then the rest (with --yes).
	c.run("dlq", "purge", dls.Data[0].ID).has(t, "purged 1, remaining 0")
	c.run("dlq", "purge", "--endpoint", a.ID).want(t, ExitUsage, "--yes")
	r = c.run("dlq", "purge", "--endpoint", a.ID, "--yes", "--limit", "1")
	r.want(t, 0, "purged 1/2", "purged 2/2")
	r.has(t, "purged 2, remaining 0")
	c.run("dlq", "counts").has(t, "total: 0")
	c.run("dlq", "list").has(t, "no dead letters")
}

func TestFilters(t *testing.T) {
	_, c := startLocal(t, webhook.Enterprise)
	if !slices.Contains(api.Routes(), api.Route{Method: "POST", Path: "/v1/filters/test"}) {
		// Not served: the CLI says so, as a 404.
		c.run("filters", "test", "--filter-text", "duration_seconds > 120", "--event-type", "call.completed").
			want(t, ExitNotFound, "no such route", "does not have this route")
		t.Skip("POST /v1/filters/test is not served")
	}
	// The seed's example, against the call.completed sample (187 s, "pricing").
	const seed = `event_type = "call.completed" and duration_seconds > 120 and (transcript has "pricing" or transcript has "quote")`
	r := c.run("filters", "test", "--filter-text", seed, "--event-type", "call.completed")
	r.want(t, 0)
	r.has(t, "match:", "yes", "call.completed", `duration_seconds > 120`)
	r = c.run("filters", "test", "--filter-text", "duration_seconds > 600", "--event-type", "call.completed")
	r.want(t, 0)
	r.has(t, "match:  no", "why:    duration_seconds > 600 (was 187)")
	var res apiclient.FilterTestResult
	urgent := strings.Replace(sampleDetail(t, "call.completed"), `"urgency":"medium"`, `"urgency":"high"`, 1)
	for detail, want := range map[string]bool{"": false, urgent: true} {
		args := []string{"filters", "test", "--filter", `{"field":"urgency","op":">=","value":"high"}`, "--event-type", "call.completed"}
		if detail != "" {
			args = append(args, "--detail", "-")
		}
		r := c.runIn(detail, append([]string{"--json"}, args...)...)
		r.want(t, 0)
		if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.Match != want || len(res.Filter) == 0 {
			t.Fatalf("filters test --filter (urgent %v) = %+v, %v", want, res, err)
		}
	}
	c.run("filters", "test", "--filter-text", "duration_seconds >", "--event-type", "call.completed").want(t, ExitError, "webhookctl: filter_text")
	c.run("filters", "test", "--filter-text", "duration_seconds > 1", "--delivery-id", "dlv_missing").want(t, ExitNotFound, "not found")

	// Endpoints take filters in either form, and show the text form.
	rcv := receiver(t)
	r = c.run("webhooks", "create", "--url", rcv.URL(), "--event-type", "call.completed", "--filter-text", seed)
	r.want(t, 0)
	id := field(r.out, "id")
	if f := field(r.out, "filter"); !strings.Contains(f, "pricing") || !strings.Contains(f, "duration_seconds > 120") {
		t.Fatalf("create --filter-text: filter %q", f)
	}
	c.run("webhooks", "update", id, "--filter", `{"field":"duration_seconds","op":">","value":600}`).has(t, "duration_seconds > 600")
	c.run("webhooks", "update", id, "--filter-text", "duration_seconds >>> 5").want(t, ExitError, "webhookctl: filter_text")
	r = c.run("webhooks", "update", id, "--clear-filter")
	r.want(t, 0)
	if f := field(r.out, "filter"); f != "-" {
		t.Fatalf("--clear-filter left filter %q", f)
	}
	// A delivered event can be tested again by its delivery id.
	var ep apiclient.Endpoint
	c.json(&ep, "webhooks", "rotate-secret", id)
	rcv.SetSecret(ep.Secret)
	c.ok("events", "send", "call.completed", "--event-id", "evt_filter_1")
	var ds apiclient.List[apiclient.Delivery]
	eventually(t, 20*time.Second, "the delivery", func() bool {
		c.json(&ds, "webhooks", "deliveries", id, "--status", "delivered")
		return len(ds.Data) == 1
	})
	c.run("filters", "test", "--filter-text", seed, "--delivery-id", ds.Data[0].ID).has(t, "match:  yes", "evt_filter_1")
}

func TestUnavailable(t *testing.T) {
	// Nothing listens: exit 6.
	c := cli{t: t, url: "http://127.0.0.1:1"}
	c.run("plan").want(t, ExitUnavailable, "webhookctl: cannot reach the API")
	c.run("events", "send", "call.completed").want(t, ExitUnavailable, "cannot reach")

	// 503, and a timeout: exit 6. 429 is retried.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/plan":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"temporary failure; retry later"}}`))
		case "/v1/event-types":
			time.Sleep(300 * time.Millisecond)
		case "/v1/webhooks":
			if calls.Add(1) < 3 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"message":"Too Many Requests"}`))
				return
			}
			w.Write([]byte(`{"data":[]}`))
		}
	}))
	defer srv.Close()
	c = cli{t: t, url: srv.URL}
	c.run("plan").want(t, ExitUnavailable, "webhookctl: temporary failure; retry later")
	c.run("--timeout", "100ms", "event-types").want(t, ExitUnavailable, "cannot reach the API")
	c.run("webhooks", "list").has(t, "no webhooks")
	if calls.Load() != 3 {
		t.Fatalf("429 retried: %d calls, want 3", calls.Load())
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/webhooks/whk_1":
			// A (misbehaving) server that shows a secret.
			w.Write([]byte(`{"id":"whk_1","url":"https://x","event_types":["*"],"status":"active","secret":"` + secret + `","nested":{"secret":"` + secret + `"}}`))
		case "/v1/webhooks/whk_4":
			// One with only the members of a rotation: no "secret" key.
			w.Write([]byte(`{"id":"whk_4","url":"https://x","event_types":["*"],"status":"active","previous_secret":"` + secret + `","secrets":["` + secret + `"],"\u0073ecret":"` + secret + `"}`))
		case "/v1/webhooks/whk_2":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"invalid","message":"` + secret + ` is wrong","field":"headers.Authorization"}}`))
		case "/v1/webhooks/whk_3":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("upstream said " + secret))
		case "/v1/webhooks":
			// Created, but the answer is cut short: the error must not echo it.
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id":"whk_1","secret":"` + secret))
		}
	}))
	defer srv.Close()
	c := cli{t: t, url: srv.URL}
	for _, r := range []result{
		c.run("webhooks", "get", "whk_1"),
		c.run("--json", "webhooks", "get", "whk_1"),
		c.run("--json", "webhooks", "get", "whk_4"),
		c.run("webhooks", "get", "whk_2"),
		c.run("webhooks", "get", "whk_3"),
		c.run("webhooks", "create", "--url", "https://x", "--event-type", "*"),
	} {
		if strings.Contains(r.out+r.errOut, "c2VjcmV0") {
			t.Errorf("webhookctl %v printed the secret:\nstdout: %s\nstderr: %s", r.args, r.out, r.errOut)
		}
	}
	c.run("webhooks", "get", "whk_2").want(t, ExitError, "webhookctl: headers.Authorization: whsec_… is wrong")
	c.run("webhooks", "get", "whk_3").want(t, ExitUnavailable, "HTTP 502: upstream said whsec_…")
	c.run("webhooks", "create", "--url", "https://x", "--event-type", "*").want(t, ExitError, "unexpected answer (HTTP 201")
}

func TestProgress(t *testing.T) {
	var b strings.Builder
	p := &progress{w: &b, tty: true, verb: "redriven"}
	p.update(50, 200, "skipped 1")
	p.update(200, 200, "")
	p.stop()
	if !strings.Contains(b.String(), "\r[#######.......................] 50/200 redriven, skipped 1") ||
		!strings.Contains(b.String(), "\r[##############################] 200/200 redriven") || !strings.HasSuffix(b.String(), "\n") {
		t.Fatalf("progress on a terminal = %q", b.String())
	}
	b.Reset()
	p = &progress{w: &b, verb: "purged"}
	p.update(1, 2, "")
	p.stop()
	if b.String() != "purged 1/2\n" {
		t.Fatalf("progress elsewhere = %q", b.String())
	}
}

func TestRedriveDecodesBothShapes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want apiclient.BulkResult
	}{
		{`{"done":3,"skipped":["a: gone","b: poison"],"remaining":7}`, apiclient.BulkResult{Done: 3, Skipped: []string{"a: gone", "b: poison"}, SkippedCount: 2, Remaining: 7}},
		{`{"redriven":3,"skipped":1,"remaining":0}`, apiclient.BulkResult{Done: 3, SkippedCount: 1}},
		{`{"purged":5,"remaining":1}`, apiclient.BulkResult{Done: 5, Remaining: 1}},
	} {
		var got apiclient.BulkResult
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil || !slices.Equal(got.Skipped, tc.want.Skipped) ||
			got.Done != tc.want.Done || got.SkippedCount != tc.want.SkippedCount || got.Remaining != tc.want.Remaining {
			t.Errorf("%s → %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestTestWithoutEventType: "webhooks test ID" leaves the type to the
// server, as its help says, which picks one the endpoint subscribes to
// (it used to refuse an empty type).
func TestTestWithoutEventType(t *testing.T) {
	_, c := startLocal(t, webhook.Enterprise)
	rcv := receiver(t)
	ep := c.subscribe(rcv, "voicemail.*")
	r := c.run("webhooks", "test", ep.ID)
	r.want(t, 0)
	r.has(t, "voicemail.recorded")
	// A detail is of a type the caller names: the server doesn't guess.
	c.run("webhooks", "test", ep.ID, "--detail", `{"data":{}}`).want(t, ExitUsage, "--detail needs --event-type")
}
