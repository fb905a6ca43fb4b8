package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/phoneshield/webhooks/shared/envelope"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// The narrow ports a Deliverer uses.
type (
	// EndpointGetter reads one endpoint configuration.
	EndpointGetter interface {
		GetEndpoint(ctx context.Context, id string) (*webhook.Endpoint, error)
	}
	// MessageSender enqueues messages.
	MessageSender interface {
		SendMessages(ctx context.Context, queue string, msgs []webhook.OutMessage) error
	}
	// DeadLetterPutter stores dead letters.
	DeadLetterPutter interface {
		PutDeadLetter(ctx context.Context, dl *webhook.DeadLetter) error
	}
	// AttemptLogger records attempts in the delivery log.
	AttemptLogger interface {
		AppendAttempt(ctx context.Context, d *webhook.Delivery, a webhook.Attempt) error
	}
	// HTTPSender makes one HTTP attempt.
	HTTPSender interface {
		Send(ctx context.Context, req sender.Request) sender.Result
	}
	// Limiter paces deliveries per endpoint (DESIGN §6). Wait returns 0 when
	// the delivery may go now, or how long to defer it; deferring never uses
	// up an attempt.
	Limiter interface {
		Wait(ctx context.Context, endpointID string, perMinute int) (time.Duration, error)
	}
)

// Deliverer processes delivery tasks. Its fields are its dependencies and
// settings; set them once, then call Process from any number of goroutines.
type Deliverer struct {
	Endpoints   EndpointGetter
	Keys        webhook.Idempotency
	Log         AttemptLogger
	Queue       MessageSender
	DeadLetters DeadLetterPutter
	HTTP        HTTPSender
	Limiter     Limiter // nil: no rate limit
	Plan        webhook.Plan
	// QueueName maps an endpoint id to its queue.
	QueueName func(endpointID string) string
	// Lease bounds how long a crashed attempt blocks its delivery; it must
	// exceed the attempt timeout (10 s) by a margin. Default 60 s.
	Lease time.Duration
	// LogTTL is how long delivery logs are kept. Default 30 days.
	LogTTL time.Duration
	// RetryScale multiplies every retry delay and the first hop of a
	// rate-limit deferral, to shorten them (local-mode demos and tests use
	// e.g. 0.001): a value above 0 and below 1 applies; anything else (0,
	// or a bad value) means 1.
	RetryScale float64
	Now        func() time.Time // default time.Now
	Rand       func() float64   // jitter source; default math/rand
	Logger     *slog.Logger     // default slog.Default()

	signers signerCache
}

// Defaults.
const (
	DefaultLease  = 60 * time.Second
	DefaultLogTTL = 30 * 24 * time.Hour
)

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deliverer) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Process handles one queue message body. A nil error means the message is
// done with (delivered, rescheduled, dropped as a duplicate or dead-lettered)
// and may be deleted; an error means it must be handed out again later (the
// handler reports it as a batch item failure). Poison bodies are
// dead-lettered, not returned as errors, so they never block a batch.
// Process only reads body (the handler passes the bytes of an immutable
// string), and the task decoded from it may share its memory.
func (d *Deliverer) Process(ctx context.Context, body []byte) error {
	t, err := DecodeTask(body)
	if err != nil {
		return d.poison(ctx, body, err)
	}
	log := taskLogger{d.logger(), t}

	now := d.now()
	if wait := t.NotBefore.Sub(now); wait > 0 {
		return d.requeue(ctx, t, wait)
	}

	ep, err := d.Endpoints.GetEndpoint(ctx, t.EndpointID)
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		return d.deadLetterUnattempted(ctx, log, t, "endpoint was deleted before delivery")
	case err != nil:
		return fmt.Errorf("delivery: get endpoint %s: %w", t.EndpointID, err)
	case ep.Status != webhook.StatusActive:
		return d.deadLetterUnattempted(ctx, log, t, "endpoint is inactive; redrive after enabling it")
	}

	if d.Limiter != nil {
		limit := ep.RateLimitPerMinute
		if limit <= 0 || limit > d.Plan.RatePerMinute {
			limit = d.Plan.RatePerMinute
		}
		wait, err := d.Limiter.Wait(ctx, ep.ID, limit)
		if err != nil {
			return fmt.Errorf("delivery: rate limiter: %w", err)
		}
		if wait > 0 {
			log.Debug("rate limited; deferred", "wait", wait)
			if scaled := d.scale(wait); scaled < wait {
				// Scaled (local demos and tests, whose limiter may run on
				// a test clock), the task comes back early; its NotBefore,
				// the window's opening, then sends it on unscaled, so a
				// limiter on real minutes costs one more hop, not a new
				// deferral each time, ~1/RetryScale of them a window.
				t.NotBefore = now.Add(wait)
				return d.requeue(ctx, t, scaled)
			}
			return d.requeue(ctx, t, wait)
		}
	}

	lease, dup, err := d.acquire(ctx, log, t)
	if dup || err != nil {
		return err
	}

	req, logged, info, err := d.build(t, ep, now)
	if err != nil {
		// The event passed validation when it was accepted and secrets are
		// generated by us, so this is a bug or a corrupted message: keep it
		// in the DLQ, don't retry.
		if dlErr := d.deadLetter(ctx, log, t, nil, "cannot build the request: "+err.Error()); dlErr != nil {
			return dlErr
		}
		return d.Keys.Finish(ctx, lease)
	}
	if info.Truncated {
		log.Warn("payload cut down to 1 MB", "dropped", info.Dropped)
	}

	res := d.HTTP.Send(ctx, req)
	// Whether the caller's cancellation (local mode shutting down) cut the
	// attempt short, rather than the receiver failing it: a failure that
	// came first counts. (A Lambda's deadline is when it is stopped, so
	// nothing after it runs there: as after a crash, the lease lapses.)
	var stopped error
	if ctx.Err() != nil && errors.Is(res.Err, context.Canceled) && (res.StatusCode == 0 || res.StatusCode/100 == 2) {
		stopped = ctx.Err()
	}
	// The attempt is made: what follows logs it and schedules the next,
	// and must finish even if the caller cancels now, or an attempt the
	// receiver may have seen would be missing from the log. It is bounded
	// on its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
	defer cancel()
	a := attemptOf(t.Attempt, t.Generation, now, res)
	rec := &webhook.Delivery{
		ID: t.DeliveryID, EndpointID: ep.ID, EventID: t.Event.ID, EventType: t.Event.Type,
		Request: logged, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(d.logTTL()),
	}
	if stopped != nil {
		if res.StatusCode != 0 {
			// The receiver accepted it; only our read of its reply was
			// cut short.
			a.Error = ""
		} else {
			// Not the receiver's doing: no attempt is used up. The attempt
			// is logged as cut short and its lease left to lapse (with the
			// process, or at its expiry), so the message, handed out again,
			// makes it again under the same number, whose outcome then
			// replaces this line.
			rec.Status = webhook.DeliveryPending
			if err := d.Log.AppendAttempt(ctx, rec, a); err != nil {
				log.Error("delivery log write failed", "error", err.Error())
			}
			log.Info("attempt cut short by the caller; it will be made again", "error", a.Error)
			return fmt.Errorf("delivery: %s attempt %d cut short by the caller: %w", t.DeliveryID, t.Attempt, stopped)
		}
	}

	if a.OK() {
		rec.Status = webhook.DeliveryDelivered
		log.Info("delivered", "status", a.StatusCode, "latency_ms", a.Latency.Milliseconds())
		return d.settle(ctx, log, lease, true, rec, a, nil)
	}
	log.Info("attempt failed", "status", a.StatusCode, "error", a.Error, "latency_ms", a.Latency.Milliseconds())

	delay, more := ep.Retry.NextDelay(t.Attempt, res.RetryAfter, d.Rand)
	if !more {
		rec.Status = webhook.DeliveryDeadLettered
		reason := fmt.Sprintf("%d attempts failed; last: %s", t.Attempt, a.Error)
		return d.settle(ctx, log, lease, true, rec, a, func() error {
			return d.deadLetter(ctx, log, t, &a, reason)
		})
	}
	next := *t
	next.Attempt++
	next.NotBefore = time.Time{}
	next.Previous = append(append([]webhook.Attempt(nil), t.Previous...), trimmed(a))
	msg, err := d.message(&next, d.scale(delay))
	if err != nil {
		// The next attempt cannot be queued at all (an event near the
		// queue's size limit, grown by the outcomes it carries): retrying
		// this one would repeat it forever, so it ends here.
		rec.Status = webhook.DeliveryDeadLettered
		reason := fmt.Sprintf("attempt %d failed (%s) and attempt %d cannot be queued: %v", t.Attempt, a.Error, next.Attempt, err)
		return d.settle(ctx, log, lease, true, rec, a, func() error {
			return d.deadLetter(ctx, log, t, &a, reason)
		})
	}
	rec.Status = webhook.DeliveryPending
	return d.settle(ctx, log, lease, false, rec, a, func() error {
		// Enqueue the next attempt before releasing this one: if the send
		// fails, the message comes back, finds the lease held, and the
		// attempt is made again once it expires — nothing is lost.
		return d.send(ctx, &next, msg)
	})
}

// SettleTimeout bounds what follows an attempt (logging it, queueing the
// next or dead-lettering), which runs even if the caller's context ends.
const SettleTimeout = 10 * time.Second

// Settler is an optional interface of an Idempotency store that keeps
// the delivery log in the same record as the key: Settle records attempt a
// and ends the lease — finishing the key when done, releasing attempt
// l.Attempt otherwise — in one write. The DynamoDB adapter implements it so
// a delivery costs two writes (acquire, settle), not three. An error
// wrapping webhook.ErrLogNotWritten means the lease was ended and only the
// log write failed: it is reported, and the delivery moves on.
type Settler interface {
	Settle(ctx context.Context, l webhook.Lease, done bool, d *webhook.Delivery, a webhook.Attempt) error
}

// Try makes one attempt of ev to ep — rendered, signed and sent exactly as
// a delivery would be, under the SSRF guard — without the queue, the
// idempotency keys or the log: the management API's "send a test event".
// It returns the attempt's outcome and the request as it is logged.
func (d *Deliverer) Try(ctx context.Context, ep *webhook.Endpoint, ev *webhook.Event) (webhook.Attempt, webhook.Request, error) {
	now := d.now()
	req, logged, _, err := d.build(NewTask(ev, ep.ID), ep, now)
	if err != nil {
		return webhook.Attempt{}, webhook.Request{}, err
	}
	return attemptOf(1, 0, now, d.HTTP.Send(ctx, req)), logged, nil
}

// build renders and signs task t's request to ep, returning it with its
// logged copy and what rendering cut down.
func (d *Deliverer) build(t *Task, ep *webhook.Endpoint, now time.Time) (sender.Request, webhook.Request, envelope.Info, error) {
	body, info, err := envelope.RenderInfo(&t.Event, ep.ID, d.Plan)
	if err != nil {
		return sender.Request{}, webhook.Request{}, info, err
	}
	req, logged, err := d.request(t, ep, body, now)
	return req, logged, info, err
}

// attemptOf records the outcome of attempt n of generation gen made at at.
func attemptOf(n, gen int, at time.Time, res sender.Result) webhook.Attempt {
	a := webhook.Attempt{N: n, Generation: gen, At: at, StatusCode: res.StatusCode, Latency: res.Latency, Response: string(res.Body)}
	if res.Err != nil {
		a.Error = res.Err.Error()
	}
	return a
}

// settle moves the delivery on after an attempt: first the step that must
// precede the end of the lease (enqueue the next attempt, or dead-letter),
// then the log write and the lease's end. A log write that fails is
// reported but does not stop the delivery from moving on: re-sending a
// delivered webhook to save a log line would be worse. Without a Settler,
// the log write and the lease's end are independent and run concurrently,
// so a delivery costs one store round trip here, not two.
func (d *Deliverer) settle(ctx context.Context, log taskLogger, l webhook.Lease, done bool, rec *webhook.Delivery, a webhook.Attempt, before func() error) error {
	if before != nil {
		if err := before(); err != nil {
			return fmt.Errorf("delivery: %s: %w", rec.ID, err)
		}
	}
	end := d.Keys.Release
	if done {
		end = d.Keys.Finish
	}
	if s, ok := d.Keys.(Settler); ok {
		err := s.Settle(ctx, l, done, rec, a)
		if errors.Is(err, webhook.ErrLogNotWritten) {
			log.Error("delivery log write failed", "error", err.Error())
			return nil
		}
		if err != nil {
			return fmt.Errorf("delivery: settle %s: %w", rec.ID, err)
		}
		return nil
	}
	// The lease's end runs on a fresh goroutine and the log write (the
	// deeper call: it encodes the record) on this one, whose stack has
	// already grown: fewer stack copies.
	ended := make(chan error, 1)
	go func() { ended <- end(ctx, l) }()
	if err := d.Log.AppendAttempt(ctx, rec, a); err != nil {
		log.Error("delivery log write failed", "error", err.Error())
	}
	if err := <-ended; err != nil {
		return fmt.Errorf("delivery: %s: %w", rec.ID, err)
	}
	return nil
}

func (d *Deliverer) lease() time.Duration {
	if d.Lease > 0 {
		return d.Lease
	}
	return DefaultLease
}

func (d *Deliverer) logTTL() time.Duration {
	if d.LogTTL > 0 {
		return d.LogTTL
	}
	return DefaultLogTTL
}

func (d *Deliverer) scale(delay time.Duration) time.Duration {
	if d.RetryScale > 0 && d.RetryScale < 1 { // so the result never overflows
		return time.Duration(float64(delay) * d.RetryScale)
	}
	return delay
}

// requeue puts t back on its endpoint's queue after wait, as one hop of at
// most MaxQueueDelay; longer waits carry NotBefore and hop again.
func (d *Deliverer) requeue(ctx context.Context, t *Task, wait time.Duration) error {
	msg, err := d.message(t, wait)
	if err != nil {
		return err
	}
	return d.send(ctx, t, msg)
}

// message is the queue message of t after wait (one hop of it, see
// requeue). A task over the queue's size limit sheds the response
// excerpts of its earlier outcomes (the delivery log keeps them); one
// still over it is ErrTaskTooBig (and an invalid error).
func (d *Deliverer) message(t *Task, wait time.Duration) (webhook.OutMessage, error) {
	hop := wait
	if hop > webhook.MaxQueueDelay {
		hop = webhook.MaxQueueDelay
		if t.NotBefore.IsZero() {
			t.NotBefore = d.now().Add(wait)
		}
	}
	body, err := t.Encode()
	if err == nil && len(body) > webhook.MaxMessageSize && len(t.Previous) > 0 {
		t.Previous = slices.Clone(t.Previous)
		for i := range t.Previous {
			t.Previous[i].Response = ""
		}
		body, err = t.Encode()
	}
	if err != nil {
		return webhook.OutMessage{}, fmt.Errorf("delivery: encode task: %w", err)
	}
	if err := webhook.CheckMessageBody("task", body); err != nil {
		return webhook.OutMessage{}, fmt.Errorf("delivery: %s attempt %d: %w: %w", t.DeliveryID, t.Attempt, ErrTaskTooBig, err)
	}
	return webhook.OutMessage{ID: "0", Body: body, Delay: hop}, nil
}

func (d *Deliverer) send(ctx context.Context, t *Task, msg webhook.OutMessage) error {
	if err := d.Queue.SendMessages(ctx, d.QueueName(t.EndpointID), []webhook.OutMessage{msg}); err != nil {
		return fmt.Errorf("delivery: requeue %s attempt %d: %w", t.DeliveryID, t.Attempt, err)
	}
	return nil
}

// ErrTaskTooBig reports a delivery task over the queue's message size
// limit (webhook.MaxMessageSize): no retry can send it.
var ErrTaskTooBig = errors.New("delivery task too big to queue")

// deliveryGetter is implemented by delivery logs that read a record back
// (every adapter's).
type deliveryGetter interface {
	GetDelivery(ctx context.Context, id string) (*webhook.Delivery, error)
}

// acquire takes the task's idempotency key for its attempt. dup reports
// a duplicate (the key done, or the attempt already made), logged and to
// be dropped.
func (d *Deliverer) acquire(ctx context.Context, log taskLogger, t *Task) (l webhook.Lease, dup bool, err error) {
	l, err = d.Keys.Acquire(ctx, t.Key(), t.Attempt, d.lease())
	switch {
	case errors.Is(err, webhook.ErrDone), errors.Is(err, webhook.ErrStale):
		log.Info("duplicate task dropped", "reason", err.Error())
		return l, true, nil
	case err != nil:
		return l, false, fmt.Errorf("delivery: acquire %s attempt %d: %w", t.Key(), t.Attempt, err)
	}
	return l, false, nil
}

// deadLetterUnattempted ends a task without making its attempt (its
// endpoint was deleted or disabled meanwhile). It takes the task's
// idempotency key first, as an attempt would: a duplicate of a task
// already ended (delivered, dead-lettered, or its attempt made) is
// dropped, so it neither adds a dead letter for a delivery that was made
// (whose redrive would deliver it twice) nor replaces one holding every
// attempt's outcome; a task whose key is held elsewhere is retried later.
// A log record left pending by earlier attempts (or by this one, cut
// short) is marked dead-lettered too, its last attempt rewritten as it was
// logged, so the log does not show the delivery pending for good; a record
// already settled is left alone. A failure to do so is logged; the DLQ
// holds the outcome either way. The key is then finished: this round of
// the delivery is over, and a redrive starts a new one under a new key.
func (d *Deliverer) deadLetterUnattempted(ctx context.Context, log taskLogger, t *Task, reason string) error {
	lease, dup, err := d.acquire(ctx, log, t)
	if dup || err != nil {
		return err
	}
	// Its lease, if what follows fails, lapses: the message is handed out
	// again and this is done again (a Release would record the attempt
	// as made, and the retry would be dropped as stale).
	if err := d.deadLetter(ctx, log, t, nil, reason); err != nil {
		return err
	}
	d.endPendingLog(ctx, log, t)
	if err := d.Keys.Finish(ctx, lease); err != nil {
		return fmt.Errorf("delivery: finish %s: %w", t.Key(), err)
	}
	return nil
}

// endPendingLog marks the log record of a task ended without its attempt
// dead-lettered if earlier attempts left it pending (see
// deadLetterUnattempted).
func (d *Deliverer) endPendingLog(ctx context.Context, log taskLogger, t *Task) {
	g, ok := d.Log.(deliveryGetter)
	if !ok {
		return
	}
	rec, err := g.GetDelivery(ctx, t.DeliveryID)
	if err == nil && rec.Status == webhook.DeliveryPending && len(rec.Attempts) > 0 {
		rec.Status, rec.UpdatedAt = webhook.DeliveryDeadLettered, d.now()
		err = d.Log.AppendAttempt(ctx, rec, rec.Attempts[len(rec.Attempts)-1])
	}
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		log.Error("delivery log not marked dead-lettered", "error", err.Error())
	}
}

// deadLetter stores the task in the DLQ with every attempt's outcome.
func (d *Deliverer) deadLetter(ctx context.Context, log taskLogger, t *Task, last *webhook.Attempt, reason string) error {
	attempts := append([]webhook.Attempt(nil), t.Previous...)
	if last != nil {
		attempts = append(attempts, *last)
	}
	ev := t.Event
	dl := &webhook.DeadLetter{ID: t.Key(), EndpointID: t.EndpointID, Event: &ev, Attempts: attempts, Generation: t.Generation, Reason: reason, At: d.now()}
	if err := d.DeadLetters.PutDeadLetter(ctx, dl); err != nil {
		return fmt.Errorf("delivery: dead-letter %s: %w", t.DeliveryID, err)
	}
	log.Warn("dead-lettered", "reason", reason, "attempts", len(attempts))
	return nil
}

// poison dead-letters a message body that is not a task at all.
func (d *Deliverer) poison(ctx context.Context, body []byte, cause error) error {
	return PoisonDeadLetter(ctx, d.DeadLetters, d.logger(), "delivery queue", body, cause, d.now())
}

// PoisonDeadLetter stores input that can't be processed in the DLQ with the
// reason, so it never blocks or fails the rest of a batch.
func PoisonDeadLetter(ctx context.Context, dlq DeadLetterPutter, log *slog.Logger, where string, raw []byte, cause error, now time.Time) error {
	id := "poison_" + webhook.DeliveryID(where, string(raw))[4:]
	reason := fmt.Sprintf("poison input on %s: %v", where, cause)
	if len(raw) > 64<<10 {
		raw = raw[:64<<10]
	}
	if err := dlq.PutDeadLetter(ctx, &webhook.DeadLetter{ID: id, Reason: reason, Raw: string(raw), At: now}); err != nil {
		return fmt.Errorf("dead-letter poison input: %w", err)
	}
	log.Warn("poison input dead-lettered", "id", id, "reason", reason)
	return nil
}

func trimmed(a webhook.Attempt) webhook.Attempt {
	if len(a.Response) > PreviousExcerpt {
		a.Response = a.Response[:PreviousExcerpt]
	}
	return a
}

// Canonical keys of the headers every attempt carries.
var (
	keyEventID    = http.CanonicalHeaderKey("X-PhoneShield-Event-Id")
	keyEventType  = http.CanonicalHeaderKey("X-PhoneShield-Event-Type")
	keyDeliveryID = http.CanonicalHeaderKey("X-PhoneShield-Delivery-Id")
	keyAttempt    = http.CanonicalHeaderKey("X-PhoneShield-Attempt")
)

// request builds the HTTP request of one attempt and the copy of it that is
// logged: the same headers less the signatures, with the values of custom
// headers that look like credentials redacted.
func (d *Deliverer) request(t *Task, ep *webhook.Endpoint, body []byte, now time.Time) (sender.Request, webhook.Request, error) {
	signer, err := d.signers.get(ep, now)
	if err != nil {
		return sender.Request{}, webhook.Request{}, fmt.Errorf("endpoint secret: %w", err)
	}
	// One backing array for every single-value header; each slice is
	// capped so an append copies instead of clobbering its neighbour.
	vals := make([]string, 0, len(ep.Headers)+4)
	one := func(v string) []string {
		vals = append(vals, v)
		return vals[len(vals)-1 : len(vals) : len(vals)]
	}
	h := make(http.Header, len(ep.Headers)+8) // + 4 signature headers
	// The logged body shares the rendered body's bytes: nothing modifies
	// them once rendered (they are only hashed, sent and logged).
	logged := webhook.Request{URL: ep.URL, Body: unsafe.String(unsafe.SliceData(body), len(body)), Headers: make(map[string]string, len(ep.Headers)+8)}
	for k, v := range ep.Headers {
		// Validated at save time: never a reserved name, never twice in
		// different cases.
		k = http.CanonicalHeaderKey(k)
		h[k] = one(v)
		if sender.Sensitive(k) {
			v = sender.Redacted
		}
		logged.Headers[k] = v
	}
	attempt := strconv.Itoa(t.Attempt)
	for _, kv := range [...][2]string{{keyEventID, t.Event.ID}, {keyEventType, t.Event.Type}, {keyDeliveryID, t.DeliveryID}, {keyAttempt, attempt}} {
		h[kv[0]] = one(kv[1])
		logged.Headers[kv[0]] = kv[1]
	}
	logged.Headers["Content-Type"] = "application/json"
	logged.Headers["User-Agent"] = webhook.UserAgent

	signer.Sign(t.Event.ID, now, body, h)
	logged.Headers[signature.HeaderWebhookID] = h.Get(signature.HeaderWebhookID)
	logged.Headers[signature.HeaderWebhookTimestamp] = h.Get(signature.HeaderWebhookTimestamp)
	return sender.Request{URL: ep.URL, Body: body, Headers: h}, logged, nil
}
