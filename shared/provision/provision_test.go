package provision

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/phoneshield/webhooks/shared/mototest"
	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mototest.Stop()
	os.Exit(code)
}

const (
	prefix   = "ps-wh-"
	function = "deliver"
	dlqName  = prefix + "dlq" // shares the prefix: Reconcile must leave it be
	dlqARN   = "arn:aws:sqs:" + mototest.Region + ":" + mototest.Account + ":" + dlqName
)

type env struct {
	sqs    *sqs.Client
	lambda *lambda.Client
	fnARN  string
}

// setup resets moto and creates the DLQ and the delivery function (which
// needs an IAM role; service/iam is not a dependency, so the role is made
// with one signed call to moto's IAM query API).
func setup(t *testing.T) *env {
	t.Helper()
	endpoint := mototest.Start(t)
	mototest.Reset(t)
	cfg := mototest.Config(endpoint)
	e := &env{sqs: sqs.NewFromConfig(cfg), lambda: lambda.NewFromConfig(cfg)}
	ctx := t.Context()
	if _, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(dlqName)}); err != nil {
		t.Fatalf("create DLQ: %v", err)
	}
	role := createRole(t, cfg, endpoint, "deliver-role")
	fn, err := e.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(function),
		Role:         aws.String(role),
		Runtime:      lambdatypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Code:         &lambdatypes.FunctionCode{ZipFile: bootstrapZip(t)},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	e.fnARN = aws.ToString(fn.FunctionArn)
	return e
}

func createRole(t *testing.T, cfg aws.Config, endpoint, name string) string {
	t.Helper()
	form := url.Values{
		"Action":                   {"CreateRole"},
		"Version":                  {"2010-05-08"},
		"RoleName":                 {name},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	}.Encode()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint+"/", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(form))
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "iam", mototest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("IAM CreateRole: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM CreateRole: HTTP %d: %s", resp.StatusCode, body)
	}
	return "arn:aws:iam::" + mototest.Account + ":role/" + name
}

func bootstrapZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("bootstrap")
	if err == nil {
		_, err = w.Write([]byte("#!/bin/sh\n"))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (e *env) provisioner(cfg Config) *Provisioner {
	cfg.Prefix = cmp.Or(cfg.Prefix, prefix)
	cfg.DLQARN = cmp.Or(cfg.DLQARN, dlqARN)
	cfg.DeliverFunction = cmp.Or(cfg.DeliverFunction, function)
	p := New(e.sqs, e.lambda, cfg)
	// Past ReconcileGrace of everything the test makes: its Reconciles
	// may retire what it just made (TestReconcileGrace checks the grace).
	p.now = func() time.Time { return time.Now().Add(ReconcileGrace + time.Minute) }
	return p
}

func (e *env) queueURL(t *testing.T, id string) (string, bool) {
	t.Helper()
	out, err := e.sqs.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(prefix + id)})
	if _, ok := errors.AsType[*sqstypes.QueueDoesNotExist](err); ok {
		return "", false
	}
	if err != nil {
		t.Fatalf("GetQueueUrl(%s): %v", id, err)
	}
	return aws.ToString(out.QueueUrl), true
}

func (e *env) attributes(t *testing.T, id string) map[string]string {
	t.Helper()
	u, ok := e.queueURL(t, id)
	if !ok {
		t.Fatalf("queue of %s missing", id)
	}
	out, err := e.sqs.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%s): %v", id, err)
	}
	return out.Attributes
}

func (e *env) mappings(t *testing.T, id string) []lambdatypes.EventSourceMappingConfiguration {
	t.Helper()
	out, err := e.lambda.ListEventSourceMappings(t.Context(), &lambda.ListEventSourceMappingsInput{
		FunctionName:   aws.String(function),
		EventSourceArn: aws.String("arn:aws:sqs:" + mototest.Region + ":" + mototest.Account + ":" + prefix + id),
	})
	if err != nil {
		t.Fatalf("ListEventSourceMappings(%s): %v", id, err)
	}
	return out.EventSourceMappings
}

func checkQueue(t *testing.T, e *env, id string) {
	t.Helper()
	a := e.attributes(t, id)
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     int    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &rp); err != nil || rp.DeadLetterTargetArn != dlqARN || rp.MaxReceiveCount != 20 {
		t.Errorf("%s: RedrivePolicy %q (%v), want to %s after 20 receives", id, a["RedrivePolicy"], err, dlqARN)
	}
	if !strings.EqualFold(a["SqsManagedSseEnabled"], "true") {
		t.Errorf("%s: SqsManagedSseEnabled = %q, want true", id, a["SqsManagedSseEnabled"])
	}
	if a["VisibilityTimeout"] != "360" || a["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("%s: VisibilityTimeout %s, MessageRetentionPeriod %s; want 360, 1209600", id, a["VisibilityTimeout"], a["MessageRetentionPeriod"])
	}
	if !tlsOnly(a["Policy"]) || !strings.Contains(a["Policy"], `"`+strings.TrimSuffix(dlqARN, "dlq")+id+`"`) {
		t.Errorf("%s: Policy %q, want requests without TLS denied on the queue", id, a["Policy"])
	}
}

// TestTLSOnly: a queue policy counts as TLS-only however SQS writes it
// back, and anything that allows or fails to deny is drift.
func TestTLSOnly(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   bool
	}{
		{tlsOnlyPolicy("arn:aws:sqs:us-east-1:123456789012:x-ep-whk_a"), true},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":["sqs:*"],"Resource":"r","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`, true},
		{`{"Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":"*","Resource":"r","Condition":{"Bool":{"aws:SecureTransport":["false"]}}}]}`, true},
		{``, false},
		{`{}`, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"r"}]}`, false},
		{tlsOnlyPolicy("r")[:len(tlsOnlyPolicy("r"))-2] + `,{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"r"}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"sqs:SendMessage","Resource":"r","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"sqs:*","Resource":"r","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
		{`{"Statement":[{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"r","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, false},
	} {
		if got := tlsOnly(tc.policy); got != tc.want {
			t.Errorf("tlsOnly(%s) = %t, want %t", tc.policy, got, tc.want)
		}
	}
}

func checkMapping(t *testing.T, e *env, id string, concurrency int32) {
	t.Helper()
	ms := e.mappings(t, id)
	if len(ms) != 1 {
		t.Fatalf("%s: %d mappings, want 1", id, len(ms))
	}
	m := ms[0]
	if aws.ToString(m.FunctionArn) != e.fnARN || aws.ToInt32(m.BatchSize) != 10 || aws.ToInt32(m.MaximumBatchingWindowInSeconds) != 0 ||
		m.ScalingConfig == nil || aws.ToInt32(m.ScalingConfig.MaximumConcurrency) != concurrency ||
		!slices.Equal(m.FunctionResponseTypes, []lambdatypes.FunctionResponseType{lambdatypes.FunctionResponseTypeReportBatchItemFailures}) ||
		aws.ToString(m.State) != "Enabled" {
		sc := int32(-1)
		if m.ScalingConfig != nil {
			sc = aws.ToInt32(m.ScalingConfig.MaximumConcurrency)
		}
		t.Errorf("%s: mapping to %s, batch %d, window %d, concurrency %d, response types %v, state %s; want %s, 10, 0, %d, [ReportBatchItemFailures], Enabled",
			id, aws.ToString(m.FunctionArn), aws.ToInt32(m.BatchSize), aws.ToInt32(m.MaximumBatchingWindowInSeconds), sc, m.FunctionResponseTypes, aws.ToString(m.State), e.fnARN, concurrency)
	}
}

func TestCreate(t *testing.T) {
	e := setup(t)
	p := e.provisioner(Config{})
	for range 2 { // idempotent
		if err := p.Create(t.Context(), "whk_a"); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	checkQueue(t, e, "whk_a")
	checkMapping(t, e, "whk_a", 2)

	// A queue that exists with other attributes is repaired.
	u, _ := e.queueURL(t, "whk_a")
	if _, err := e.sqs.SetQueueAttributes(t.Context(), &sqs.SetQueueAttributesInput{QueueUrl: aws.String(u), Attributes: map[string]string{"VisibilityTimeout": "30"}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Create(t.Context(), "whk_a"); err != nil {
		t.Fatalf("Create over a drifted queue: %v", err)
	}
	checkQueue(t, e, "whk_a")

	// KMS instead of SSE-SQS.
	if err := e.provisioner(Config{KMSKeyID: "alias/webhooks"}).Create(t.Context(), "whk_k"); err != nil {
		t.Fatalf("Create with KMS: %v", err)
	}
	if got := e.attributes(t, "whk_k")["KmsMasterKeyId"]; got != "alias/webhooks" {
		t.Errorf("KmsMasterKeyId = %q, want alias/webhooks", got)
	}
}

func TestDelete(t *testing.T) {
	e := setup(t)
	p := e.provisioner(Config{})
	if err := p.Create(t.Context(), "whk_a"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := p.Delete(t.Context(), "whk_a"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if _, ok := e.queueURL(t, "whk_a"); ok {
		t.Error("queue still there after Delete")
	}
	if ms := e.mappings(t, "whk_a"); len(ms) != 0 {
		t.Errorf("%d mappings left after Delete", len(ms))
	}
	if _, ok := e.queueURL(t, "dlq"); !ok {
		t.Error("DLQ gone")
	}
}

// TestDeleteDrainsFirst: the queue of a deleted endpoint that still holds
// tasks (here a retry scheduled 15 minutes ahead) is kept with its
// mapping, so the delivery function dead-letters them as they come up;
// Reconcile removes it once it is empty. (It used to be deleted at once,
// its tasks neither delivered nor dead-lettered.)
func TestDeleteDrainsFirst(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	p := e.provisioner(Config{})
	if err := p.Create(ctx, "whk_a"); err != nil {
		t.Fatal(err)
	}
	url, _ := e.queueURL(t, "whk_a")
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"task":1}`), DelaySeconds: 900}); err != nil {
		t.Fatal(err)
	}
	r, err := p.delete(ctx, "whk_a")
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := e.queueURL(t, "whk_a"); !ok || len(e.mappings(t, "whk_a")) != 1 || !slices.Equal(r.Draining, []string{"whk_a"}) {
		t.Fatalf("after Delete of a queue holding a task: %s; want the queue and its mapping kept, draining", r)
	}
	// Still draining at the next Reconcile, which leaves it be.
	if r, err := p.Reconcile(ctx, nil); err != nil || !slices.Equal(r.Draining, []string{"whk_a"}) || r.Changed() {
		t.Fatalf("Reconcile while draining: %s, %v; want it left draining", r, err)
	}
	// Drained (the test empties it), the next Reconcile removes it.
	if _, err := e.sqs.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	r, err = p.Reconcile(ctx, nil)
	if err != nil || !slices.Equal(r.DeletedQueues, []string{"whk_a"}) || !slices.Equal(r.DeletedMappings, []string{"whk_a"}) {
		t.Errorf("Reconcile once drained: %s, %v; want the queue and its mapping deleted", r, err)
	}
	if _, ok := e.queueURL(t, "whk_a"); ok {
		t.Error("drained queue still there")
	}
}

// TestReconcileGrace: a queue and mapping Reconcile doesn't know are left
// alone while young: they may be an endpoint's being created (made before
// the endpoint is stored), which the Reconcile's read of the endpoints
// missed; old enough, they are retired.
func TestReconcileGrace(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	p := e.provisioner(Config{})
	p.now = time.Now
	if err := p.Create(ctx, "whk_new"); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Reconcile(ctx, nil); err != nil || r.Changed() {
		t.Errorf("Reconcile of a just-created queue it doesn't know: %s, %v; want it left alone", r, err)
	}
	if _, ok := e.queueURL(t, "whk_new"); !ok || len(e.mappings(t, "whk_new")) != 1 {
		t.Fatal("the young queue or its mapping is gone")
	}
	p.now = func() time.Time { return time.Now().Add(ReconcileGrace + time.Minute) }
	if r, err := p.Reconcile(ctx, nil); err != nil || !slices.Equal(r.DeletedQueues, []string{"whk_new"}) {
		t.Errorf("Reconcile once it is old: %s, %v; want it retired", r, err)
	}
}

func TestReconcile(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	p := e.provisioner(Config{})
	ids := []string{"whk_a", "whk_b", "whk_c", "whk_d"}
	r, err := p.Reconcile(ctx, ids)
	if err != nil {
		t.Fatalf("first Reconcile: %v", err)
	}
	if !slices.Equal(r.CreatedQueues, ids) || !slices.Equal(r.CreatedMappings, ids) {
		t.Errorf("first Reconcile: %s; want every queue and mapping created", r)
	}

	// Break things: a's queue deleted, b's mapping deleted, c's
	// concurrency and d's visibility timeout and policy drifted (one that
	// lets anyone send), an orphan queue with a mapping.
	urlA, _ := e.queueURL(t, "whk_a")
	if _, err := e.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(urlA)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: e.mappings(t, "whk_b")[0].UUID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{
		UUID: e.mappings(t, "whk_c")[0].UUID, ScalingConfig: &lambdatypes.ScalingConfig{MaximumConcurrency: aws.Int32(7)},
	}); err != nil {
		t.Fatal(err)
	}
	urlD, _ := e.queueURL(t, "whk_d")
	if _, err := e.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(urlD), Attributes: map[string]string{"VisibilityTimeout": "30",
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}`}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Create(ctx, "whk_gone"); err != nil {
		t.Fatal(err)
	}

	r, err = p.Reconcile(ctx, ids)
	if err != nil {
		t.Fatalf("repairing Reconcile: %v", err)
	}
	want := Report{
		CreatedQueues:   []string{"whk_a"}, // its mapping outlived it (moto keeps it; AWS would too)
		UpdatedQueues:   []string{"whk_d"},
		DeletedQueues:   []string{"whk_gone"},
		CreatedMappings: []string{"whk_b"},
		UpdatedMappings: []string{"whk_c"},
		DeletedMappings: []string{"whk_gone"},
	}
	if r.String() != want.String() {
		t.Errorf("repairing Reconcile did: %s\nwant: %s", r, want)
	}
	for _, id := range ids {
		checkQueue(t, e, id)
		checkMapping(t, e, id, 2)
	}
	if _, ok := e.queueURL(t, "whk_gone"); ok {
		t.Error("orphan queue still there")
	}
	if ms := e.mappings(t, "whk_gone"); len(ms) != 0 {
		t.Errorf("orphan queue's mapping still there")
	}
	if _, ok := e.queueURL(t, "dlq"); !ok {
		t.Error("Reconcile deleted the DLQ, which shares the prefix")
	}

	r, err = p.Reconcile(ctx, ids)
	if err != nil || r.Changed() {
		t.Errorf("second Reconcile: %s, %v; want no changes", r, err)
	}

	// Everything removed: only the DLQ stays.
	r, err = p.Reconcile(ctx, nil)
	if err != nil || len(r.DeletedQueues) != 4 || len(r.DeletedMappings) != 4 {
		t.Errorf("Reconcile(none): %s, %v; want 4 queues and mappings deleted", r, err)
	}
	if _, ok := e.queueURL(t, "dlq"); !ok {
		t.Error("Reconcile(none) deleted the DLQ")
	}
}

func TestConfigChecked(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{DLQARN: dlqARN, DeliverFunction: function},                                    // no prefix
		{Prefix: prefix, DLQARN: "dlq", DeliverFunction: function},                     // not an ARN
		{Prefix: prefix, DLQARN: dlqARN, DeliverFunction: function, MaxConcurrency: 1}, // below Lambda's minimum
		{Prefix: prefix, DLQARN: dlqARN, DeliverFunction: function, BatchSize: 100},    // needs a batching window
	} {
		p := New(nil, nil, cfg)
		if err := p.Create(ctx, "whk_a"); webhook.KindOf(err) != webhook.KindInvalid {
			t.Errorf("Create with %+v = %v, want KindInvalid", cfg, err)
		}
	}
	p := New(nil, nil, Config{Prefix: prefix, DLQARN: dlqARN, DeliverFunction: function})
	for _, id := range []string{"", "has space", "dlq", strings.Repeat("x", 80)} {
		if err := p.Create(ctx, id); webhook.KindOf(err) != webhook.KindInvalid {
			t.Errorf("Create(%q) = %v, want KindInvalid", id, err)
		}
		if _, err := p.Reconcile(ctx, []string{"whk_a", id}); webhook.KindOf(err) != webhook.KindInvalid {
			t.Errorf("Reconcile with %q = %v, want KindInvalid", id, err)
		}
	}
}

// TestEndpointIDLeavesOtherStacksAlone: a queue under this prefix whose
// remainder has a hyphen is another stack's (stack "x" has prefix
// "x-ep-", stack "x-ep-y" has "x-ep-y-ep-"), never an endpoint's, so
// Reconcile never takes it for a deleted endpoint's queue; and an
// endpoint id with a hyphen is refused.
func TestEndpointIDLeavesOtherStacksAlone(t *testing.T) {
	p := New(nil, nil, Config{Prefix: "x-ep-", DLQARN: "arn:aws:sqs:us-east-1:123456789012:x-dlq", DeliverFunction: "deliver"})
	for _, tc := range []struct{ in, want string }{
		{"https://sqs.us-east-1.amazonaws.com/123456789012/x-ep-whk_abc", "whk_abc"},
		{"arn:aws:sqs:us-east-1:123456789012:x-ep-whk_abc", "whk_abc"},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/x-ep-y-ep-whk_abc", ""},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/x-ep-", ""},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/x-dlq", ""},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/other-whk_abc", ""},
	} {
		if got := p.endpointID(tc.in); got != tc.want {
			t.Errorf("endpointID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if _, err := p.queueName("y-ep-whk_abc"); err == nil {
		t.Error("queueName accepted an id with a hyphen")
	}
	// The stack's IAM grants cover <prefix>whk_* only.
	if _, err := p.queueName("abc"); err == nil {
		t.Error("queueName accepted an id without the whk_ prefix")
	}
	if got := p.endpointID("arn:aws:sqs:us-east-1:123456789012:x-ep-abc"); got != "" {
		t.Errorf("endpointID of a queue without the whk_ prefix = %q, want none", got)
	}
}
