package provision

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// SQSAPI is the part of the SQS client a Provisioner calls; *sqs.Client
// implements it.
type SQSAPI interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	DeleteQueue(ctx context.Context, in *sqs.DeleteQueueInput, optFns ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
	ListQueues(ctx context.Context, in *sqs.ListQueuesInput, optFns ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
}

// LambdaAPI is the part of the Lambda client a Provisioner calls;
// *lambda.Client implements it.
type LambdaAPI interface {
	CreateEventSourceMapping(ctx context.Context, in *lambda.CreateEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.CreateEventSourceMappingOutput, error)
	UpdateEventSourceMapping(ctx context.Context, in *lambda.UpdateEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.UpdateEventSourceMappingOutput, error)
	DeleteEventSourceMapping(ctx context.Context, in *lambda.DeleteEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.DeleteEventSourceMappingOutput, error)
	ListEventSourceMappings(ctx context.Context, in *lambda.ListEventSourceMappingsInput, optFns ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
}

// Config is what every endpoint queue and its mapping look like.
type Config struct {
	// Prefix is put before each endpoint id to name its queue. Required:
	// Reconcile deletes the queues with the prefix that it does not know.
	Prefix string
	// DLQARN is the ARN of the shared dead-letter queue. Endpoint queues
	// are created in its account and region. Required.
	DLQARN string
	// DeliverFunction is the name or ARN of the delivery Lambda. Required.
	DeliverFunction string
	// MaxConcurrency caps the delivery Lambdas one queue runs at once.
	// Default 2, the minimum Lambda allows.
	MaxConcurrency int32
	// BatchSize is the most messages one invocation gets. Default 10.
	BatchSize int32
	// BatchingWindow is how long Lambda gathers a batch; whole seconds,
	// default 0 (Lambda requires at least 1 s for a BatchSize over 10).
	BatchingWindow time.Duration
	// MaxReceiveCount sends a message to the DLQ after that many receives.
	// Attempts are counted in the message, not by receives, so this is
	// only a safety net for poison that keeps crashing the function.
	// Default 20.
	MaxReceiveCount int
	// KMSKeyID encrypts the queues with that KMS key; "" uses SQS-managed
	// encryption (SSE-SQS).
	KMSKeyID string
	// VisibilityTimeout of the queues: AWS advises at least six times the
	// function's timeout. Default 360 s (a 60 s function).
	VisibilityTimeout time.Duration
	// MessageRetentionPeriod of the queues. Default 14 days, the maximum.
	MessageRetentionPeriod time.Duration
}

// Defaults.
const (
	DefaultMaxConcurrency         = 2
	DefaultBatchSize              = 10
	DefaultMaxReceiveCount        = 20
	DefaultVisibilityTimeout      = 6 * 60 * time.Second
	DefaultMessageRetentionPeriod = 14 * 24 * time.Hour
)

// Provisioner creates, deletes and reconciles endpoint queues and their
// event source mappings. Its methods are safe for concurrent use on
// different endpoints.
type Provisioner struct {
	sqs    SQSAPI
	lambda LambdaAPI
	cfg    Config
	err    error // a bad Config, returned by every method
	now    func() time.Time
}

// New returns a Provisioner. A bad cfg makes every method fail with a
// KindInvalid error.
func New(sqs SQSAPI, lambda LambdaAPI, cfg Config) *Provisioner {
	cfg.MaxConcurrency = cmp.Or(cfg.MaxConcurrency, DefaultMaxConcurrency)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, DefaultBatchSize)
	cfg.MaxReceiveCount = cmp.Or(cfg.MaxReceiveCount, DefaultMaxReceiveCount)
	cfg.VisibilityTimeout = cmp.Or(cfg.VisibilityTimeout, DefaultVisibilityTimeout)
	cfg.MessageRetentionPeriod = cmp.Or(cfg.MessageRetentionPeriod, DefaultMessageRetentionPeriod)
	return &Provisioner{sqs: sqs, lambda: lambda, cfg: cfg, err: cfg.check(), now: time.Now}
}

func (c *Config) check() error {
	var err error
	switch {
	case c.Prefix == "":
		err = webhook.Invalid("prefix", "required")
	case c.DeliverFunction == "":
		err = webhook.Invalid("deliver_function", "required")
	case len(strings.Split(c.DLQARN, ":")) != 6 || !strings.HasPrefix(c.DLQARN, "arn:") || strings.Split(c.DLQARN, ":")[2] != "sqs":
		err = webhook.Invalid("dlq_arn", "must be the ARN of an SQS queue, got %q", c.DLQARN)
	case c.MaxConcurrency < 2 || c.MaxConcurrency > 1000:
		err = webhook.Invalid("max_concurrency", "must be 2 to 1000, got %d", c.MaxConcurrency)
	case c.BatchSize < 1 || c.BatchSize > 10000:
		err = webhook.Invalid("batch_size", "must be 1 to 10000, got %d", c.BatchSize)
	case c.BatchingWindow < 0 || c.BatchingWindow > 300*time.Second:
		err = webhook.Invalid("batching_window", "must be 0 to 300 s, got %s", c.BatchingWindow)
	case c.BatchSize > 10 && c.BatchingWindow < time.Second:
		err = webhook.Invalid("batching_window", "must be at least 1 s with a batch size over 10")
	case c.MaxReceiveCount < 1 || c.MaxReceiveCount > 1000:
		err = webhook.Invalid("max_receive_count", "must be 1 to 1000, got %d", c.MaxReceiveCount)
	case c.VisibilityTimeout < time.Second || c.VisibilityTimeout > 12*time.Hour:
		err = webhook.Invalid("visibility_timeout", "must be 1 s to 12 h, got %s", c.VisibilityTimeout)
	case c.MessageRetentionPeriod < time.Minute || c.MessageRetentionPeriod > 14*24*time.Hour:
		err = webhook.Invalid("message_retention_period", "must be 1 min to 14 days, got %s", c.MessageRetentionPeriod)
	}
	if err != nil {
		return fmt.Errorf("provision: config: %w", err)
	}
	return nil
}

// dlqName is the name of the dead-letter queue, which Reconcile never
// touches even if it has the prefix.
func (p *Provisioner) dlqName() string {
	return p.cfg.DLQARN[strings.LastIndexByte(p.cfg.DLQARN, ':')+1:]
}

// queueName returns the queue of endpoint id, or a KindInvalid error.
func (p *Provisioner) queueName(id string) (string, error) {
	name := p.cfg.Prefix + id
	switch {
	case id == "":
		return "", webhook.Invalid("endpoint_id", "required")
	case strings.ContainsRune(id, '-'):
		// Endpoint ids have none; a queue named with one could belong to
		// another stack, whose prefix extends this one's (see endpointID).
		return "", webhook.Invalid("endpoint_id", "%q: endpoint ids have no hyphen", id)
	case !strings.HasPrefix(id, webhook.EndpointIDPrefix):
		// The stack's IAM grants cover <prefix>whk_* only.
		return "", webhook.Invalid("endpoint_id", "%q: endpoint ids start with %q", id, webhook.EndpointIDPrefix)
	case len(name) > 80 || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}):
		return "", webhook.Invalid("endpoint_id", "queue name %q must be at most 80 letters, digits, hyphens or underscores", name)
	case name == p.dlqName():
		return "", webhook.Invalid("endpoint_id", "queue name %q is the dead-letter queue's", name)
	}
	return name, nil
}

// queueARN returns the ARN of queue name: queues live in the DLQ's account
// and region.
func (p *Provisioner) queueARN(name string) string {
	return p.cfg.DLQARN[:strings.LastIndexByte(p.cfg.DLQARN, ':')+1] + name
}

// endpointID returns the endpoint of a queue ARN or URL, or "" if the
// queue is not one of this Provisioner's endpoint queues: no prefix, the
// DLQ, or a name with a hyphen after the prefix, which no endpoint id has
// but the queues of another stack do whose prefix starts with this one
// (stack "x" has prefix "x-ep-"; stack "x-ep-y" has "x-ep-y-ep-"), and
// which Reconcile must leave alone.
func (p *Provisioner) endpointID(arnOrURL string) string {
	name := arnOrURL[strings.LastIndexAny(arnOrURL, ":/")+1:]
	id, ok := strings.CutPrefix(name, p.cfg.Prefix)
	if name == p.dlqName() || !ok || !strings.HasPrefix(id, webhook.EndpointIDPrefix) || strings.ContainsRune(id, '-') {
		return ""
	}
	return id
}

// queueAttributes returns the attributes endpoint queue name has: every
// endpoint queue has the same but for the policy, which names the queue.
func (p *Provisioner) queueAttributes(name string) map[string]string {
	a := map[string]string{
		// Requests not made over TLS are refused, as the stack's own
		// queues do (EnforceSSL): the tasks hold whole events.
		string(sqstypes.QueueAttributeNamePolicy):                 tlsOnlyPolicy(p.queueARN(name)),
		string(sqstypes.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(int(p.cfg.VisibilityTimeout / time.Second)),
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(int(p.cfg.MessageRetentionPeriod / time.Second)),
		string(sqstypes.QueueAttributeNameRedrivePolicy):          fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, p.cfg.DLQARN, p.cfg.MaxReceiveCount),
		// The SQS adapter relies on these defaults: the SDK never sends
		// an int32 zero, so a zero delay or wait means the queue's.
		string(sqstypes.QueueAttributeNameDelaySeconds):                  "0",
		string(sqstypes.QueueAttributeNameReceiveMessageWaitTimeSeconds): "0",
	}
	if p.cfg.KMSKeyID != "" {
		a[string(sqstypes.QueueAttributeNameKmsMasterKeyId)] = p.cfg.KMSKeyID
	} else {
		a[string(sqstypes.QueueAttributeNameSqsManagedSseEnabled)] = "true"
	}
	return a
}

// drifted returns the attributes to set so that have, queue name's,
// matches the Config.
func (p *Provisioner) drifted(name string, have map[string]string) map[string]string {
	want := p.queueAttributes(name)
	fix := map[string]string{}
	for k, v := range want {
		switch k {
		case string(sqstypes.QueueAttributeNamePolicy):
			if !tlsOnly(have[k]) {
				fix[k] = v
			}
		case string(sqstypes.QueueAttributeNameRedrivePolicy):
			if !sameRedrivePolicy(have[k], p.cfg.DLQARN, p.cfg.MaxReceiveCount) {
				fix[k] = v
			}
		case string(sqstypes.QueueAttributeNameSqsManagedSseEnabled):
			if !strings.EqualFold(have[k], v) {
				fix[k] = v
			}
		default:
			if have[k] != v {
				fix[k] = v
			}
		}
	}
	return fix
}

// tlsOnlyPolicy is the policy of queue arn: every request not made over
// TLS is denied.
func tlsOnlyPolicy(arn string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny",`+
		`"Principal":{"AWS":"*"},"Action":"sqs:*","Resource":%q,"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, arn)
}

// tlsOnly reports whether a queue policy denies every request not made
// over TLS, to everyone, and allows nothing: what tlsOnlyPolicy says,
// however SQS writes it back (a string or a list, "*" or {"AWS":"*"}, a
// string or a boolean). Anything else is drift.
func tlsOnly(policy string) bool {
	var doc struct {
		Statement []struct {
			Effect    string
			Principal any
			Action    any
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return false
	}
	anyOf := func(v any, want ...string) bool {
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		for _, x := range list {
			if slices.Contains(want, fmt.Sprint(x)) {
				return true
			}
		}
		return false
	}
	denies := false
	for _, st := range doc.Statement {
		if st.Effect != "Deny" {
			return false
		}
		principal := st.Principal
		if m, ok := principal.(map[string]any); ok && len(m) == 1 {
			principal = m["AWS"]
		}
		denies = denies || anyOf(principal, "*") && anyOf(st.Action, "sqs:*", "*") &&
			anyOf(st.Condition["Bool"]["aws:SecureTransport"], "false")
	}
	return denies
}

func sameRedrivePolicy(policy, dlqARN string, maxReceives int) bool {
	var rp struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"` // a number, or a string holding one
	}
	if json.Unmarshal([]byte(policy), &rp) != nil {
		return false
	}
	n, err := strconv.Atoi(strings.Trim(string(rp.MaxReceiveCount), `"`))
	return err == nil && rp.DeadLetterTargetArn == dlqARN && n == maxReceives
}

// Report says what Reconcile (or Create and Delete) changed, by endpoint id.
type Report struct {
	CreatedQueues   []string
	UpdatedQueues   []string // attributes repaired
	DeletedQueues   []string
	CreatedMappings []string
	UpdatedMappings []string // settings repaired
	DeletedMappings []string // orphans and duplicates
	Draining        []string // gone endpoints whose queues still hold tasks
}

// Changed reports whether anything was done.
func (r Report) Changed() bool {
	return len(r.CreatedQueues)+len(r.UpdatedQueues)+len(r.DeletedQueues)+
		len(r.CreatedMappings)+len(r.UpdatedMappings)+len(r.DeletedMappings) > 0
}

func (r Report) String() string {
	var parts []string
	for _, f := range []struct {
		what string
		ids  []string
	}{
		{"created queues", r.CreatedQueues}, {"updated queues", r.UpdatedQueues}, {"deleted queues", r.DeletedQueues},
		{"created mappings", r.CreatedMappings}, {"updated mappings", r.UpdatedMappings}, {"deleted mappings", r.DeletedMappings},
		{"draining", r.Draining},
	} {
		if len(f.ids) > 0 {
			parts = append(parts, f.what+" "+strings.Join(f.ids, ", "))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, "; ")
}

// Create makes endpoint id's queue (encrypted, with the redrive policy to
// the DLQ, the visibility timeout and retention of the Config) and the
// event source mapping from it to the delivery function. It is
// idempotent: an existing queue has drifted attributes repaired, an
// existing mapping drifted settings. AWS refuses to create a queue for
// 60 s after one of the same name was deleted (QueueDeletedRecently): the
// error is transient, and the next Create or Reconcile finishes the job.
func (p *Provisioner) Create(ctx context.Context, endpointID string) error {
	_, err := p.create(ctx, endpointID)
	return err
}

func (p *Provisioner) create(ctx context.Context, id string) (Report, error) {
	var r Report
	if p.err != nil {
		return r, p.err
	}
	name, err := p.queueName(id)
	if err != nil {
		return r, fmt.Errorf("provision: create: %w", err)
	}
	if err := p.ensureQueue(ctx, &r, id, ""); err != nil {
		return r, err
	}
	ms, err := p.listMappings(ctx, p.queueARN(name))
	if err != nil {
		return r, err
	}
	return r, p.ensureMapping(ctx, &r, id, ms)
}

// ensureQueue creates endpoint id's queue, or repairs the attributes of
// the existing one at url ("" when not known to exist).
func (p *Provisioner) ensureQueue(ctx context.Context, r *Report, id, url string) error {
	name := p.cfg.Prefix + id
	if url == "" {
		_, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: p.queueAttributes(name)})
		if err == nil {
			// Created, or it existed with these very attributes.
			r.CreatedQueues = append(r.CreatedQueues, id)
			return nil
		}
		if !isQueueExists(err) {
			return fmt.Errorf("provision: create queue %s: %w", name, err)
		}
		// It exists with other attributes: repair them.
		got, err := p.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("provision: queue %s: %w", name, err)
		}
		url = aws.ToString(got.QueueUrl)
	}
	out, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return fmt.Errorf("provision: queue %s attributes: %w", name, err)
	}
	fix := p.drifted(name, out.Attributes)
	if len(fix) == 0 {
		return nil
	}
	if _, err := p.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: fix}); err != nil {
		return fmt.Errorf("provision: repair queue %s: %w", name, err)
	}
	r.UpdatedQueues = append(r.UpdatedQueues, id)
	return nil
}

func isQueueExists(err error) bool {
	if _, ok := errors.AsType[*sqstypes.QueueNameExists](err); ok {
		return true
	}
	ae, ok := errors.AsType[smithy.APIError](err)
	return ok && (ae.ErrorCode() == "QueueAlreadyExists" || ae.ErrorCode() == "QueueNameExists")
}

// ensureMapping makes ms (the mappings from endpoint id's queue to the
// function) exactly one mapping with the Config's settings.
func (p *Provisioner) ensureMapping(ctx context.Context, r *Report, id string, ms []lambdatypes.EventSourceMappingConfiguration) error {
	arn := p.queueARN(p.cfg.Prefix + id)
	if len(ms) == 0 {
		_, err := p.lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
			EventSourceArn:                 aws.String(arn),
			FunctionName:                   aws.String(p.cfg.DeliverFunction),
			Enabled:                        aws.Bool(true),
			BatchSize:                      aws.Int32(p.cfg.BatchSize),
			MaximumBatchingWindowInSeconds: aws.Int32(p.batchingWindow()),
			ScalingConfig:                  &lambdatypes.ScalingConfig{MaximumConcurrency: aws.Int32(p.cfg.MaxConcurrency)},
			FunctionResponseTypes:          []lambdatypes.FunctionResponseType{lambdatypes.FunctionResponseTypeReportBatchItemFailures},
		})
		if _, ok := errors.AsType[*lambdatypes.ResourceConflictException](err); ok {
			// Created meanwhile (by a concurrent Create): repair that one.
			if ms, err = p.listMappings(ctx, arn); err != nil {
				return err
			}
			if len(ms) > 0 {
				return p.ensureMapping(ctx, r, id, ms)
			}
		}
		if err != nil {
			return fmt.Errorf("provision: map queue %s to %s: %w", arn, p.cfg.DeliverFunction, err)
		}
		r.CreatedMappings = append(r.CreatedMappings, id)
		return nil
	}
	m := ms[0]
	if p.mappingDrifted(m) {
		_, err := p.lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{
			UUID:                           m.UUID,
			Enabled:                        aws.Bool(true),
			BatchSize:                      aws.Int32(p.cfg.BatchSize),
			MaximumBatchingWindowInSeconds: aws.Int32(p.batchingWindow()),
			ScalingConfig:                  &lambdatypes.ScalingConfig{MaximumConcurrency: aws.Int32(p.cfg.MaxConcurrency)},
			FunctionResponseTypes:          []lambdatypes.FunctionResponseType{lambdatypes.FunctionResponseTypeReportBatchItemFailures},
		})
		if err != nil {
			return fmt.Errorf("provision: repair mapping %s of queue %s: %w", aws.ToString(m.UUID), arn, err)
		}
		r.UpdatedMappings = append(r.UpdatedMappings, id)
	}
	// Lambda allows one mapping per queue and function; should there be
	// more, the extras go.
	for _, extra := range ms[1:] {
		if err := p.deleteMapping(ctx, r, id, extra); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provisioner) batchingWindow() int32 { return int32(p.cfg.BatchingWindow / time.Second) }

// mappingDrifted reports whether m's settings differ from the Config's,
// or m is disabled.
func (p *Provisioner) mappingDrifted(m lambdatypes.EventSourceMappingConfiguration) bool {
	state := aws.ToString(m.State)
	return aws.ToInt32(m.BatchSize) != p.cfg.BatchSize ||
		aws.ToInt32(m.MaximumBatchingWindowInSeconds) != p.batchingWindow() ||
		m.ScalingConfig == nil || aws.ToInt32(m.ScalingConfig.MaximumConcurrency) != p.cfg.MaxConcurrency ||
		!slices.Equal(m.FunctionResponseTypes, []lambdatypes.FunctionResponseType{lambdatypes.FunctionResponseTypeReportBatchItemFailures}) ||
		state == "Disabled" || state == "Disabling"
}

// listMappings returns the function's mappings, from queue arn ("": from
// every queue), leaving out those being deleted.
func (p *Provisioner) listMappings(ctx context.Context, arn string) ([]lambdatypes.EventSourceMappingConfiguration, error) {
	in := &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(p.cfg.DeliverFunction)}
	if arn != "" {
		in.EventSourceArn = aws.String(arn)
	}
	var ms []lambdatypes.EventSourceMappingConfiguration
	for {
		out, err := p.lambda.ListEventSourceMappings(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("provision: list mappings of %s: %w", p.cfg.DeliverFunction, err)
		}
		for _, m := range out.EventSourceMappings {
			if aws.ToString(m.State) != "Deleting" {
				ms = append(ms, m)
			}
		}
		if aws.ToString(out.NextMarker) == "" {
			return ms, nil
		}
		in.Marker = out.NextMarker
	}
}

func (p *Provisioner) deleteMapping(ctx context.Context, r *Report, id string, m lambdatypes.EventSourceMappingConfiguration) error {
	_, err := p.lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID})
	if _, ok := errors.AsType[*lambdatypes.ResourceNotFoundException](err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("provision: delete mapping %s of queue %s: %w", aws.ToString(m.UUID), aws.ToString(m.EventSourceArn), err)
	}
	r.DeletedMappings = append(r.DeletedMappings, id)
	return nil
}

// Delete removes the queue of deleted endpoint id and its event source
// mappings, once the queue is empty. A queue still holding tasks (a
// backlog, retries scheduled) is left with its mapping, so they drain:
// the delivery function dead-letters each ("endpoint was deleted"), and
// Reconcile removes the queue once it is empty. Deleting it at once
// dropped them, neither delivered nor dead-lettered. A missing queue or
// mapping is fine.
func (p *Provisioner) Delete(ctx context.Context, endpointID string) error {
	_, err := p.delete(ctx, endpointID)
	return err
}

func (p *Provisioner) delete(ctx context.Context, id string) (Report, error) {
	var r Report
	if p.err != nil {
		return r, p.err
	}
	name, err := p.queueName(id)
	if err != nil {
		return r, fmt.Errorf("provision: delete: %w", err)
	}
	ms, err := p.listMappings(ctx, p.queueARN(name))
	if err != nil {
		return r, err
	}
	url := ""
	out, err := p.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	switch _, gone := errors.AsType[*sqstypes.QueueDoesNotExist](err); {
	case gone:
	case err != nil:
		return r, fmt.Errorf("provision: delete queue %s: %w", name, err)
	default:
		url = aws.ToString(out.QueueUrl)
	}
	return r, p.retire(ctx, &r, id, url, ms, time.Time{})
}

// retire removes the queue at url ("": none) of an endpoint that is gone
// and the mappings ms from it, if the queue is empty; a queue still
// holding tasks keeps (or gets back) its mapping, so they drain. Unless
// bornAfter is zero, a queue created or a mapping changed after it is
// left alone: it may be an endpoint's being created (its queue and
// mapping are made before it is stored), which a Reconcile that read the
// endpoints a moment earlier doesn't know.
func (p *Provisioner) retire(ctx context.Context, r *Report, id, url string, ms []lambdatypes.EventSourceMappingConfiguration, bornAfter time.Time) error {
	if !bornAfter.IsZero() {
		for _, m := range ms {
			if m.LastModified != nil && m.LastModified.After(bornAfter) {
				return nil
			}
		}
	}
	if url != "" {
		empty, created, err := p.state(ctx, url)
		if err != nil {
			return err
		}
		if !bornAfter.IsZero() && created.After(bornAfter) {
			return nil
		}
		if !empty {
			r.Draining = append(r.Draining, id)
			return p.ensureMapping(ctx, r, id, ms)
		}
	}
	for _, m := range ms {
		if err := p.deleteMapping(ctx, r, id, m); err != nil {
			return err
		}
	}
	if url == "" {
		return nil
	}
	return p.deleteQueue(ctx, r, id, url)
}

// state reports whether the queue at url holds no message, visible, in
// flight or delayed, and when it was created. SQS's counts are
// approximate: they can lag a message sent in the last few seconds, which
// a queue of an endpoint deleted meanwhile is not sent (the filter drops
// the endpoint within its configuration cache's TTL).
func (p *Provisioner) state(ctx context.Context, url string) (empty bool, created time.Time, err error) {
	counts := []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	out, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: append(counts, sqstypes.QueueAttributeNameCreatedTimestamp)})
	if _, gone := errors.AsType[*sqstypes.QueueDoesNotExist](err); gone {
		return true, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("provision: count the messages of %s: %w", url, err)
	}
	if secs, err := strconv.ParseInt(out.Attributes[string(sqstypes.QueueAttributeNameCreatedTimestamp)], 10, 64); err == nil {
		created = time.Unix(secs, 0)
	}
	for _, c := range counts {
		if n := out.Attributes[string(c)]; n != "0" {
			return false, created, nil
		}
	}
	return true, created, nil
}

// ReconcileGrace is how old a queue or mapping of an endpoint Reconcile
// doesn't know must be before Reconcile retires it: younger, it may be
// an endpoint's being created.
const ReconcileGrace = 10 * time.Minute

func (p *Provisioner) deleteQueue(ctx context.Context, r *Report, id, url string) error {
	_, err := p.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	if _, ok := errors.AsType[*sqstypes.QueueDoesNotExist](err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("provision: delete queue %s: %w", url, err)
	}
	r.DeletedQueues = append(r.DeletedQueues, id)
	return nil
}

// Reconcile makes the endpoint queues and mappings match endpointIDs, the
// ids of every endpoint that should have a queue: it creates missing
// queues and mappings, repairs drifted queue attributes and mapping
// settings, and retires the queues with the prefix (never the DLQ) whose
// endpoint is not listed, as Delete does: removed with their mappings
// once empty, left draining (mapping kept or restored) until then. An
// empty list therefore retires every endpoint queue: pass the full list,
// never a partial read.
//
// It goes on past a failing endpoint and returns what it did with every
// error joined. A second run with nothing changed in between does nothing.
func (p *Provisioner) Reconcile(ctx context.Context, endpointIDs []string) (Report, error) {
	var r Report
	if p.err != nil {
		return r, p.err
	}
	want := map[string]bool{}
	for _, id := range endpointIDs {
		if _, err := p.queueName(id); err != nil {
			return r, fmt.Errorf("provision: reconcile: %w", err)
		}
		want[id] = true
	}

	queues := map[string]string{} // endpoint id → queue URL
	in := &sqs.ListQueuesInput{QueueNamePrefix: aws.String(p.cfg.Prefix), MaxResults: aws.Int32(1000)}
	for {
		out, err := p.sqs.ListQueues(ctx, in)
		if err != nil {
			return r, fmt.Errorf("provision: list queues %s*: %w", p.cfg.Prefix, err)
		}
		for _, u := range out.QueueUrls {
			if id := p.endpointID(u); id != "" {
				queues[id] = u
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	all, err := p.listMappings(ctx, "")
	if err != nil {
		return r, err
	}
	mappings := map[string][]lambdatypes.EventSourceMappingConfiguration{} // endpoint id → mappings
	for _, m := range all {
		arn := aws.ToString(m.EventSourceArn)
		if id := p.endpointID(arn); id != "" && arn == p.queueARN(p.cfg.Prefix+id) {
			mappings[id] = append(mappings[id], m)
		}
	}

	var errs []error
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if err := p.ensureQueue(ctx, &r, id, queues[id]); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.ensureMapping(ctx, &r, id, mappings[id]); err != nil {
			errs = append(errs, err)
		}
	}
	gone := map[string]bool{} // endpoints not listed, with a queue or a mapping
	for id := range mappings {
		gone[id] = !want[id]
	}
	for id := range queues {
		gone[id] = !want[id]
	}
	for _, id := range slices.Sorted(maps.Keys(gone)) {
		if !gone[id] {
			continue
		}
		if err := p.retire(ctx, &r, id, queues[id], mappings[id], p.now().Add(-ReconcileGrace)); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}
