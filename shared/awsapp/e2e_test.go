package awsapp_test

// End to end against moto: PutEvents to a moto bus → a rule targeting an
// SQS queue that stands in for the filter Lambda's trigger → the test hands
// those messages, unchanged, to the filter handler through
// lambda.NewHandler(...).Invoke → it hands the per-endpoint queue messages
// to the delivery handler as the SQSEvent Lambda's event source mapping
// would build → a loopback receiver verifies both signatures.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/awsapp/apifn"
	"github.com/phoneshield/webhooks/shared/awsapp/filterfn"
	"github.com/phoneshield/webhooks/shared/dynamo"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/localmode"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/mototest"
	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mototest.Stop()
	os.Exit(code)
}

// clock is real time plus an offset the test can move forward.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// calls counts AWS API calls by "Service.Operation".
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		c.mu.Lock()
		c.n[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
		c.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (c *calls) reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
}

func (c *calls) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

type world struct {
	t       *testing.T
	ctx     context.Context
	app     *awsapp.App
	filter  *handler.Filter
	deliver *handler.Deliver
	api     *apifn.Function
	svc     *manage.Service
	eb      *eventbridge.Client
	sqs     *awssqs.Client
	trigger string // the filter trigger queue's URL
	cfg     awsapp.Config
	clock   *clock
	calls   *calls
}

const busName = "phoneshield-test"

// setup resets moto and builds the stack's data plane in it: tables, the
// DLQ, the bus with a rule to the trigger queue, and the App wired to them.
func setup(t *testing.T) *world {
	url := mototest.Start(t)
	mototest.Reset(t)
	ctx := mototest.Context(t)
	w := &world{t: t, ctx: ctx, clock: &clock{}, calls: &calls{n: map[string]int{}}}
	awsCfg := mototest.Config(url)
	appCfg := awsCfg.Copy()
	appCfg.APIOptions = append(appCfg.APIOptions, w.calls.middleware) // count the handlers' calls only

	w.sqs = awssqs.NewFromConfig(awsCfg)
	w.eb = eventbridge.NewFromConfig(awsCfg)
	ddb := dynamodb.NewFromConfig(awsCfg)
	w.cfg = awsapp.Config{Plan: webhook.Enterprise, EndpointsTable: "ps-endpoints", DeliveriesTable: "ps-deliveries",
		RateLimitsTable: "ps-rate-limits", QueuePrefix: "ps-test-", LogTTL: 24 * time.Hour, EndpointCacheTTL: awsapp.DefaultEndpointCacheTTL, AllowHTTP: true}
	if err := dynamo.CreateTables(ctx, ddb, dynamo.Tables{Endpoints: w.cfg.EndpointsTable, Keys: w.cfg.DeliveriesTable,
		Deliveries: w.cfg.DeliveriesTable, RateLimits: w.cfg.RateLimitsTable}); err != nil {
		t.Fatal(err)
	}
	w.cfg.DLQURL = w.queue("ps-test-dlq")
	w.trigger = w.queue("ps-filter-trigger")
	must(t, errOf(w.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(busName)})))
	must(t, errOf(w.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("to-filter"), EventBusName: aws.String(busName),
		EventPattern: aws.String(`{"source":["phoneshield"]}`)})))
	must(t, errOf(w.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("to-filter"), EventBusName: aws.String(busName),
		Targets: []ebtypes.Target{{Id: aws.String("filter"), Arn: aws.String(fmt.Sprintf("arn:aws:sqs:%s:%s:ps-filter-trigger", mototest.Region, mototest.Account))}}})))

	w.app = awsapp.New(w.cfg, appCfg, awsapp.Options{Allow: egress.Loopback, RetryScale: 0.001, Now: w.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	w.filter, w.deliver = filterfn.Handler(w.app), w.app.Deliver()
	w.api = apifn.Handler(w.app, apifn.Service(w.app))
	w.svc = &manage.Service{Endpoints: w.app.Store, Log: w.app.Store, DeadLetters: w.app.DeadLetters, Plan: w.cfg.Plan,
		URLs: egress.New(egress.Loopback...), AllowHTTP: true, Now: w.clock.Now,
		Changed: func(ctx context.Context, ep *webhook.Endpoint, deleted bool) {
			if !deleted {
				w.queue(w.cfg.QueuePrefix + ep.ID) // the control plane's job; package provision is tested on its own
			}
		}}
	return w
}

// must fails the test on err; use as must(t, errOf(call(...))).
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errOf[T any](_ T, err error) error { return err }

func (w *world) queue(name string) string {
	out, err := w.sqs.CreateQueue(w.ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		w.t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func (w *world) endpoint(rcv *localmode.Receiver, in manage.Input) *webhook.Endpoint {
	w.t.Helper()
	u := rcv.URL()
	in.URL = &u
	if in.EventTypes == nil {
		in.EventTypes = []string{"*"}
	}
	ep, err := w.svc.Create(w.ctx, in)
	if err != nil {
		w.t.Fatal(err)
	}
	rcv.SetSecret(string(ep.Secret))
	return ep
}

func receiver(t *testing.T) *localmode.Receiver {
	r, err := localmode.StartReceiver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func (w *world) publish(entries ...catalog.Entry) {
	w.t.Helper()
	in := &eventbridge.PutEventsInput{}
	for _, e := range entries {
		in.Entries = append(in.Entries, ebtypes.PutEventsRequestEntry{Source: aws.String(e.Source), DetailType: aws.String(e.DetailType),
			Detail: aws.String(e.Detail), EventBusName: aws.String(busName)})
	}
	out, err := w.eb.PutEvents(w.ctx, in)
	if err != nil || out.FailedEntryCount != 0 {
		w.t.Fatalf("PutEvents: %v (%d failed)", err, out.FailedEntryCount)
	}
}

func entry(t *testing.T, typ, id string) catalog.Entry {
	e, err := catalog.Sample(typ)
	if err == nil {
		e, err = e.WithEventID(id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// receive takes up to 10 messages from a queue.
func (w *world) receive(url string) []sqstypes.Message {
	out, err := w.sqs.ReceiveMessage(w.ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		VisibilityTimeout: 30, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}})
	if err != nil {
		w.t.Fatal(err)
	}
	return out.Messages
}

// runFilter hands every message on the trigger queue to the filter
// handler, one invocation per event as EventBridge does, and deletes it
// when the invocation succeeds.
func (w *world) runFilter() int {
	n := 0
	for {
		msgs := w.receive(w.trigger)
		if len(msgs) == 0 {
			return n
		}
		for _, m := range msgs {
			if _, err := lambda.NewHandler(w.filter.Handle).Invoke(w.ctx, []byte(aws.ToString(m.Body))); err != nil {
				w.t.Logf("filter invocation failed (EventBridge would retry): %v", err)
				continue
			}
			must(w.t, errOf(w.sqs.DeleteMessage(w.ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(w.trigger), ReceiptHandle: m.ReceiptHandle})))
			n++
		}
	}
}

// sqsEvent builds the SQSEvent the event source mapping hands the
// delivery Lambda.
func (w *world) sqsEvent(queue string, msgs []sqstypes.Message) []byte {
	ev := events.SQSEvent{}
	for _, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: attrs, EventSource: "aws:sqs",
			EventSourceARN: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", mototest.Region, mototest.Account, queue), AWSRegion: mototest.Region})
	}
	raw, _ := json.Marshal(ev)
	return raw
}

// deliverOnce runs one batch of an endpoint's queue through the delivery
// handler and settles it as the event source mapping does: records not
// reported as failures are deleted; failures become visible again (at
// once here, to keep the test short). It returns how many were received.
func (w *world) deliverOnce(epID string) int {
	queue := w.cfg.QueuePrefix + epID
	url := w.queueURL(queue)
	msgs := w.receive(url)
	if len(msgs) == 0 {
		return 0
	}
	out, err := lambda.NewHandler(w.deliver.Handle).Invoke(w.ctx, w.sqsEvent(queue, msgs))
	if err != nil {
		w.t.Fatalf("deliver invocation: %v", err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		w.t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			must(w.t, errOf(w.sqs.ChangeMessageVisibility(w.ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})))
			continue
		}
		must(w.t, errOf(w.sqs.DeleteMessage(w.ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})))
	}
	return len(msgs)
}

func (w *world) queueURL(name string) string {
	out, err := w.sqs.GetQueueUrl(w.ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		w.t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// drain runs the endpoint's queue until done says so, for at most limit
// (SQS delays are whole seconds, so retries take about a second each).
func (w *world) drain(epID string, limit time.Duration, done func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			w.t.Fatalf("not done after %v", limit)
		}
		if w.deliverOnce(epID) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func (w *world) delivery(epID, eventID string) *webhook.Delivery {
	d, err := w.app.Store.GetDelivery(w.ctx, webhook.DeliveryID(epID, eventID))
	if err != nil {
		return nil
	}
	return d
}

func settledIn(w *world, epID, eventID string) func() bool {
	return func() bool {
		d := w.delivery(epID, eventID)
		return d != nil && d.Status != webhook.DeliveryPending
	}
}

func TestSuccessWithBothSignatures(t *testing.T) {
	w := setup(t)
	rcv := receiver(t)
	ep := w.endpoint(rcv, manage.Input{EventTypes: []string{"call.completed"}})
	w.publish(entry(t, "call.completed", "evt_ok"), entry(t, "voicemail.read", "evt_other"))
	if got := w.runFilter(); got != 2 {
		t.Fatalf("filter handled %d events, want 2", got)
	}
	w.drain(ep.ID, 10*time.Second, settledIn(w, ep.ID, "evt_ok"))
	got, ok := rcv.Get("evt_ok")
	if !ok || got.Requests != 1 || !got.PhoneShieldOK || !got.StandardOK {
		t.Fatalf("receiver saw %+v, want one request with both signatures valid", got)
	}
	if d := w.delivery(ep.ID, "evt_ok"); d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 1 || !strings.Contains(d.Request.Body, `"event_id":"evt_ok"`) {
		t.Errorf("log = %+v", d)
	}
	if _, ok := rcv.Get("evt_other"); ok {
		t.Error("an unsubscribed type was delivered")
	}
}

// TestCallsPerDelivery counts the AWS calls the handlers make for 20
// successful deliveries (the figures in the closing note).
func TestCallsPerDelivery(t *testing.T) {
	w := setup(t)
	rcv := receiver(t)
	ep := w.endpoint(rcv, manage.Input{})
	// Start at the top of a minute: a rate-limit window turning during
	// the run would take a reservation more than the count allows for.
	now := w.clock.Now()
	w.clock.Advance(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))
	const n = 20
	var entries []catalog.Entry
	for i := range n {
		entries = append(entries, entry(t, "call.completed", fmt.Sprintf("evt_cost_%d", i)))
	}
	w.publish(entries[:10]...)
	w.publish(entries[10:]...)
	w.calls.reset()
	w.runFilter()
	filterCalls := w.calls.snapshot()
	w.calls.reset()
	w.drain(ep.ID, 20*time.Second, func() bool {
		for i := range n {
			if g, _ := rcv.Get(fmt.Sprintf("evt_cost_%d", i)); g.Requests != 1 {
				return false
			}
		}
		return true
	})
	deliverCalls := w.calls.snapshot()
	t.Logf("filter handler, %d events: %v", n, filterCalls)
	t.Logf("delivery handler, %d deliveries: %v", n, deliverCalls)
	writes := float64(deliverCalls["DynamoDB.UpdateItem"]+deliverCalls["DynamoDB.PutItem"]) / n
	reads := float64(deliverCalls["DynamoDB.GetItem"]+deliverCalls["DynamoDB.Query"]) / n
	t.Logf("per delivery: %.2f DynamoDB writes, %.2f reads", writes, reads)
	// 2 writes (acquire, settle) plus the rate limiter's reservations,
	// each shared by up to 10 deliveries.
	if writes > 2.1 || reads > 1 {
		t.Errorf("per delivery: %.2f DynamoDB writes and %.2f reads, want ≤ 2.1 and ≤ 1", writes, reads)
	}
	if got := filterCalls["SQS.SendMessageBatch"] + filterCalls["SQS.SendMessage"]; got > n {
		t.Errorf("filter made %d SQS sends for %d events to one endpoint", got, n)
	}
}

func TestRetryThenSuccessAndDLQAfterSixAttempts(t *testing.T) {
	w := setup(t)
	flaky, doomed := receiver(t), receiver(t)
	flaky.Fail = func(_ string, n int) int {
		if n <= 2 {
			return 503
		}
		return 0
	}
	doomed.Fail = func(string, int) int { return 500 }
	epFlaky := w.endpoint(flaky, manage.Input{EventTypes: []string{"call.*"}})
	epDoomed := w.endpoint(doomed, manage.Input{EventTypes: []string{"user.*"}})
	w.publish(entry(t, "call.received", "evt_flaky"), entry(t, "user.created", "evt_doomed"))
	w.runFilter()

	var wg sync.WaitGroup
	wg.Go(func() { w.drain(epFlaky.ID, 30*time.Second, settledIn(w, epFlaky.ID, "evt_flaky")) })
	wg.Go(func() { w.drain(epDoomed.ID, 60*time.Second, settledIn(w, epDoomed.ID, "evt_doomed")) })
	wg.Wait()

	if d := w.delivery(epFlaky.ID, "evt_flaky"); d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 3 {
		t.Errorf("flaky: %s after %d attempts, want delivered after 3", d.Status, len(d.Attempts))
	}
	d := w.delivery(epDoomed.ID, "evt_doomed")
	if d.Status != webhook.DeliveryDeadLettered || len(d.Attempts) != 6 {
		t.Fatalf("doomed: %s after %d attempts, want dead-lettered after 6", d.Status, len(d.Attempts))
	}
	dls, _, err := w.app.DeadLetters.ListDeadLetters(w.ctx, webhook.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].EndpointID != epDoomed.ID || dls[0].Event == nil || dls[0].Event.ID != "evt_doomed" {
		t.Fatalf("DLQ = %+v, want the doomed delivery", dls)
	}
	if got := len(dls[0].Attempts); got != 6 {
		t.Fatalf("dead letter holds %d outcomes, want 6", got)
	}
	for i, a := range dls[0].Attempts {
		if a.N != i+1 || a.StatusCode != 500 {
			t.Errorf("outcome %d = %+v", i, a)
		}
	}
	if got, _ := doomed.Get("evt_doomed"); got.Requests != 6 {
		t.Errorf("doomed receiver saw %d requests, want 6", got.Requests)
	}
}

func TestDuplicatesDeliveredOnce(t *testing.T) {
	w := setup(t)
	rcv := receiver(t)
	ep := w.endpoint(rcv, manage.Input{})
	e := entry(t, "transcription.completed", "evt_dup")
	w.publish(e, e)
	w.publish(e)
	if got := w.runFilter(); got != 3 {
		t.Fatalf("filter handled %d events, want 3", got)
	}
	// The same SQS message handed to the delivery handler twice (SQS is
	// at-least-once): take the task off the queue and invoke with it twice.
	url := w.queueURL(w.cfg.QueuePrefix + ep.ID)
	msgs := w.receive(url)
	if len(msgs) != 1 {
		t.Fatalf("%d tasks queued for 3 copies of one event, want 1", len(msgs))
	}
	raw := w.sqsEvent(w.cfg.QueuePrefix+ep.ID, msgs)
	for range 2 {
		if _, err := lambda.NewHandler(w.deliver.Handle).Invoke(w.ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := rcv.Get("evt_dup"); got.Requests != 1 {
		t.Errorf("receiver saw %d requests, want 1", got.Requests)
	}
}

func TestRateLimitedBurstWaitsWithoutBurningAttempts(t *testing.T) {
	w := setup(t)
	rcv := receiver(t)
	limit := 3
	ep := w.endpoint(rcv, manage.Input{RateLimitPerMinute: &limit})
	// Start at the top of a minute so the burst falls in one window.
	now := w.clock.Now()
	w.clock.Advance(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))
	var ids []string
	var entries []catalog.Entry
	for i := range 8 {
		ids = append(ids, fmt.Sprintf("evt_burst_%d", i))
		entries = append(entries, entry(t, "call.received", ids[i]))
	}
	w.publish(entries[:4]...)
	w.publish(entries[4:]...)
	w.runFilter()
	deliveredCount := func() int {
		n := 0
		for _, id := range ids {
			if g, ok := rcv.Get(id); ok && g.Requests > 0 {
				n++
			}
		}
		return n
	}
	// Within this window: exactly the limit, the rest deferred.
	for range 4 {
		w.deliverOnce(ep.ID)
	}
	if got := deliveredCount(); got != limit {
		t.Fatalf("%d deliveries in one window, want the limit %d", got, limit)
	}
	// Each next window lets the limit through; deferrals burn no attempt.
	for round := 2; deliveredCount() < len(ids); round++ {
		if round > 4 {
			t.Fatalf("after %d windows only %d of %d delivered", round-1, deliveredCount(), len(ids))
		}
		w.clock.Advance(time.Minute)
		want := min(len(ids), limit*round)
		w.drain(ep.ID, 15*time.Second, func() bool { return deliveredCount() >= want })
		if got := deliveredCount(); got > want {
			t.Fatalf("window %d: %d delivered in all, want at most %d", round, got, want)
		}
	}
	for _, id := range ids {
		d := w.delivery(ep.ID, id)
		if d == nil || d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 1 || d.Attempts[0].N != 1 {
			t.Errorf("%s: %+v, want delivered at attempt 1", id, d)
		}
		if g, _ := rcv.Get(id); g.Requests != 1 {
			t.Errorf("%s: %d requests, want 1", id, g.Requests)
		}
	}
}

func TestPoisonInputIsDeadLetteredWithoutFailingTheBatch(t *testing.T) {
	w := setup(t)
	rcv := receiver(t)
	ep := w.endpoint(rcv, manage.Input{})
	// A malformed event on the bus (a detail failing validation).
	w.publish(catalog.Entry{Source: "phoneshield", DetailType: "call.completed", Detail: `{"data":{"call_id":42}}`}, entry(t, "call.completed", "evt_fine"))
	if got := w.runFilter(); got != 2 {
		t.Fatalf("filter acknowledged %d events, want 2 (poison is dead-lettered, not retried)", got)
	}
	// A garbage body in the endpoint's queue, in the same batch as a good task.
	url := w.queueURL(w.cfg.QueuePrefix + ep.ID)
	must(t, errOf(w.sqs.SendMessage(w.ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("not a task {")})))
	w.drain(ep.ID, 10*time.Second, settledIn(w, ep.ID, "evt_fine"))
	if got, _ := rcv.Get("evt_fine"); got.Requests != 1 {
		t.Errorf("good event: %d requests, want 1", got.Requests)
	}
	if msgs := w.receive(url); len(msgs) != 0 {
		t.Errorf("%d messages left on the queue, want 0 (poison must not be retried)", len(msgs))
	}
	dls, _, err := w.app.DeadLetters.ListDeadLetters(w.ctx, webhook.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, dl := range dls {
		reasons = append(reasons, dl.Reason)
	}
	joined := strings.Join(reasons, " | ")
	if len(dls) != 2 || !strings.Contains(joined, "detail.data.call_id") || !strings.Contains(joined, "delivery queue") {
		t.Errorf("dead letters = %q, want the bad event (naming detail.data.call_id) and the bad message", joined)
	}
}
