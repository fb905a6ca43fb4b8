// Package localmode runs the whole pipeline in one process with no AWS
// account: the embedded store (package bolt: a bbolt file and a write-ahead
// log) stands in for DynamoDB, SQS and the DLQ; an HTTP port speaks
// EventBridge's PutEvents protocol and serves the management API; pollers
// hand queue messages to the very handlers the Lambdas run, in the same
// event shapes (EventBridgeEvent, SQSEvent) and honouring
// BatchItemFailures the same way.
//
// Durability: PutEvents answers only after accepted events are committed to
// disk, and every queue message (including scheduled retries) is on disk,
// so a kill -9 loses nothing: after a restart every undelivered event and
// retry resumes (messages in flight at the crash become visible again, and
// leases left by the dead process are released at start-up).
//
// Endpoint configurations are read through one in-memory cache
// (fanout.Cache, refreshed every second) by both the fan-out and each
// delivery. The management API invalidates it on every change, so an
// update, disable, secret rotation or delete applies to the next delivery
// at once; a delivery already past its endpoint lookup finishes with the
// configuration it read, as it would without the cache.
package localmode

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"

	"github.com/phoneshield/webhooks/shared/api"
	"github.com/phoneshield/webhooks/shared/bolt"
	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/fanout"
	"github.com/phoneshield/webhooks/shared/handler"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/putevents"
	"github.com/phoneshield/webhooks/shared/ratelimit"
	"github.com/phoneshield/webhooks/shared/sender"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// EventQueue is the queue that holds accepted events until the filter
// handler has fanned them out (EventBridge's own buffer on AWS).
const EventQueue = "_events"

// Config configures local mode.
type Config struct {
	Addr    string       // listen address; default 127.0.0.1:4000
	DataDir string       // where the database lives; default .data
	Plan    webhook.Plan // default enterprise
	// Allow lists address ranges deliveries may reach despite the SSRF
	// guard; none by default (scripts/local passes egress.Loopback unless
	// --allow says otherwise).
	Allow []netip.Prefix
	// AllowHTTP permits http:// endpoint URLs; https only by default
	// (scripts/local sets it).
	AllowHTTP bool
	// RetryScale multiplies retry delays, to shorten them for demos and
	// tests (e.g. 0.001 turns 10 s into 10 ms): 0 (the default) means 1,
	// else 0 < RetryScale ≤ 1.
	RetryScale float64
	// AttemptTimeout is the whole-attempt timeout; default 10 s, at most
	// MaxAttemptTimeout.
	AttemptTimeout time.Duration
	// Concurrency is the number of pollers per endpoint queue, each handing
	// the delivery handler batches of up to 10 (Lambda's
	// MaximumConcurrency); default 2, at most MaxConcurrency.
	Concurrency int
	// NoRateLimit turns the per-endpoint rate limit off (benchmarks only:
	// the plan's limit is what customers get).
	NoRateLimit bool
	// TLSConfig is used for deliveries (tests add their CA); nil: system.
	TLSConfig *tls.Config
	Logger    *slog.Logger
	// send, when set (by this package's benchmarks only), replaces the
	// HTTP stage of every delivery.
	send delivery.HTTPSender
}

// MaxConcurrency bounds Config.Concurrency (Lambda's MaximumConcurrency
// per event source mapping is at most 1000, but one machine's worth of
// pollers per endpoint is far fewer).
const MaxConcurrency = 64

// Visibility is how long a message handed to a handler stays hidden; it
// exceeds the attempt timeout so a slow attempt is not handed out twice.
// With a longer AttemptTimeout, local mode raises it (see holds).
const Visibility = 30 * time.Second

// MaxAttemptTimeout bounds Config.AttemptTimeout (DESIGN's is 10 s; a
// longer one is for trying out slow receivers).
const MaxAttemptTimeout = 15 * time.Minute

// holds returns how long a delivery message stays hidden once handed out
// and how long its idempotency lease lasts, for a given attempt timeout:
// both must outlast an attempt and the logging after it, or a slow attempt
// could be handed out again and, once its lease is taken over, made twice
// at once. For the default 10 s they are Visibility and
// delivery.DefaultLease.
func holds(attemptTimeout time.Duration) (visibility, lease time.Duration) {
	if attemptTimeout <= 0 {
		attemptTimeout = sender.DefaultTimeout
	}
	visibility = max(Visibility, attemptTimeout+delivery.SettleTimeout+5*time.Second)
	return visibility, max(delivery.DefaultLease, 2*visibility)
}

// eventPollers is how many pollers hand accepted events to the filter
// handler, each up to 10 at a time; each event costs a few durable writes
// in a row, so throughput needs many in flight.
const eventPollers = 8

// RetryBackoff is how soon a message reported as a batch item failure is
// handed out again.
const RetryBackoff = 2 * time.Second

// Server is a running local mode.
type Server struct {
	cfg     Config
	db      *bolt.DB
	log     *slog.Logger
	http    *http.Server
	ln      net.Listener
	cache   *fanout.Cache
	filter  *handler.Filter
	deliver *handler.Deliver
	Service *manage.Service
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	pollers map[string]context.CancelFunc
	// visibility is how long a delivery message handed out stays hidden.
	visibility time.Duration
	kick       chan struct{}
	shutdown   sync.Once
}

// Start opens the store, starts the pollers and listens on cfg.Addr.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:4000"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".data"
	}
	if cfg.Plan.Name == "" {
		cfg.Plan = webhook.Enterprise
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.Concurrency > MaxConcurrency {
		return nil, fmt.Errorf("local mode: concurrency: %d pollers per endpoint queue is over the %d allowed", cfg.Concurrency, MaxConcurrency)
	}
	if !(cfg.RetryScale >= 0 && cfg.RetryScale <= 1) { // NaN too
		return nil, fmt.Errorf("local mode: retry scale: must be 0 (unscaled) or a fraction above 0 up to 1, got %v", cfg.RetryScale)
	}
	if cfg.AttemptTimeout < 0 || cfg.AttemptTimeout > MaxAttemptTimeout {
		return nil, fmt.Errorf("local mode: attempt timeout: %v is outside 0 (the default, %v) to %v", cfg.AttemptTimeout, sender.DefaultTimeout, MaxAttemptTimeout)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("local mode: data folder: %w", err)
	}
	db, err := bolt.Open(filepath.Join(cfg.DataDir, "webhooks.db"), bolt.Options{})
	if err != nil {
		return nil, fmt.Errorf("local mode: open store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := db.ReleaseAllLeases(ctx); err != nil {
		cancel()
		db.Close()
		return nil, fmt.Errorf("local mode: release stale leases: %w", err)
	}
	s := &Server{cfg: cfg, db: db, log: log, ctx: ctx, cancel: cancel, pollers: map[string]context.CancelFunc{}, kick: make(chan struct{}, 1)}

	guard := egress.New(cfg.Allow...)
	var httpSender delivery.HTTPSender = sender.New(sender.Options{Guard: guard, Timeout: cfg.AttemptTimeout, TLSConfig: cfg.TLSConfig})
	if cfg.send != nil {
		httpSender = cfg.send
	}
	// The endpoint cache serves the fan-out's list and each delivery's
	// endpoint. The management API invalidates it on every change, so
	// changes made here take effect at once; TTL bounds anything else.
	s.cache = &fanout.Cache{Store: db, TTL: time.Second}
	queueName := func(id string) string { return id }
	s.filter = &handler.Filter{
		Fanout:      &fanout.Fanout{Endpoints: s.cache, Keys: db, Queue: db, Plan: cfg.Plan, QueueName: queueName, Logger: log, Log: db},
		DeadLetters: db, Logger: log,
	}
	var lease time.Duration
	s.visibility, lease = holds(cfg.AttemptTimeout)
	deliverer := &delivery.Deliverer{
		Lease:     lease,
		Endpoints: s.cache, Keys: db, Log: db, Queue: db, DeadLetters: db, HTTP: httpSender,
		Plan: cfg.Plan, QueueName: queueName, RetryScale: cfg.RetryScale, Logger: log,
	}
	if !cfg.NoRateLimit {
		deliverer.Limiter = &ratelimit.Local{}
	}
	s.deliver = &handler.Deliver{Logger: log, Deliverer: deliverer}
	s.Service = &manage.Service{
		Endpoints: db, Log: db, DeadLetters: db, Plan: cfg.Plan, URLs: guard, AllowHTTP: cfg.AllowHTTP,
		Queue: db, QueueName: queueName, Tester: deliverer,
		Changed: func(context.Context, *webhook.Endpoint, bool) { s.cache.Invalidate(); s.reconcileSoon() },
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", api.Handler(s.Service, log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	pe := &putevents.Handler{Sink: s, Logger: log}
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if putevents.IsPutEvents(r) {
			pe.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("local mode: listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: browserGuard(ln.Addr(), root), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s.wg.Go(func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "error", err.Error())
		}
	})
	s.startPoller(EventQueue, eventPollers, s.pollEvents)
	s.wg.Go(s.supervise)
	log.Info("local mode listening", "addr", ln.Addr().String(), "data", cfg.DataDir, "plan", cfg.Plan.Name)
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the server's base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops the server gracefully: no new requests, pollers finish their
// current batch, the store is closed.
func (s *Server) Close() error {
	var err error
	s.shutdown.Do(func() {
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.http.Shutdown(ctx)
			cancel()
		}
		s.cancel()
		s.wg.Wait()
		err = s.db.Close()
	})
	return err
}

// Accept implements putevents.Sink: it stores events on the event queue,
// each as its JSON encoding.
func (s *Server) Accept(ctx context.Context, evs []putevents.Accepted) error {
	msgs := make([]webhook.OutMessage, len(evs))
	for i, ev := range evs {
		msgs[i] = webhook.OutMessage{ID: strconv.Itoa(i), Body: ev.JSON}
	}
	return s.db.SendMessages(ctx, EventQueue, msgs)
}

func (s *Server) reconcileSoon() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// supervise keeps one set of pollers per endpoint queue: for every
// endpoint, and for every queue still holding messages (a deleted
// endpoint's leftovers are dead-lettered by the delivery handler); the
// pollers of a deleted endpoint's queue stop once it is empty. It also
// logs the store's background trouble when it starts and ends.
func (s *Server) supervise() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var trouble string
	for {
		s.reconcile()
		if st := s.db.Stats(); st.Trouble != trouble {
			trouble = st.Trouble
			if trouble != "" {
				s.log.Error("store trouble", "error", trouble)
			} else {
				s.log.Info("store trouble over")
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *Server) reconcile() {
	eps, err := s.db.ListEndpoints(s.ctx)
	if err != nil {
		return // the store's trouble is logged by supervise; try again next tick
	}
	want := map[string]bool{}
	for _, ep := range eps {
		want[ep.ID] = true
	}
	for _, q := range s.db.QueueNames() {
		if q == EventQueue || want[q] {
			continue
		}
		// A deleted endpoint's queue: polled while it holds messages
		// (visible, in flight or delayed), which its pollers dead-letter.
		if s.db.QueueLen(q) > 0 {
			want[q] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range want {
		if _, ok := s.pollers[q]; !ok {
			s.startPollerLocked(q, s.cfg.Concurrency, s.pollDeliveries)
		}
	}
	for q, stop := range s.pollers {
		if q != EventQueue && !want[q] {
			stop()
			delete(s.pollers, q)
		}
	}
}

func (s *Server) startPoller(queue string, n int, poll func(ctx context.Context, queue string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startPollerLocked(queue, n, poll)
}

func (s *Server) startPollerLocked(queue string, n int, poll func(ctx context.Context, queue string)) {
	ctx, cancel := context.WithCancel(s.ctx)
	s.pollers[queue] = cancel
	for range n {
		s.wg.Go(func() { poll(ctx, queue) })
	}
}

// pollEvents hands accepted events, one per invocation as EventBridge
// does (concurrent invocations), to the filter handler; a failed invocation leaves the event queued
// for another try.
func (s *Server) pollEvents(ctx context.Context, queue string) {
	settleCtx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		msgs, err := s.db.ReceiveMessages(ctx, queue, 10, Visibility, time.Second)
		if err != nil {
			s.pause(ctx, err)
			continue
		}
		// Each event on its own goroutine, then the batch settled at once
		// (as pollDeliveries does): a handled event is deleted a little
		// later than it could be, which a crash meanwhile turns into a
		// repeat that the fan-out's idempotency keys absorb.
		failed := make([]bool, len(msgs))
		var wg sync.WaitGroup
		for i, m := range msgs {
			wg.Go(func() {
				// A panic (a bug) fails this event alone, as the Lambda
				// runtime's recover does for the filter Lambda: it is
				// handed to the filter again after RetryBackoff.
				defer func() {
					if p := recover(); p != nil {
						s.log.Error("filter panicked; the event will be handed to it again", "message_id", m.ID,
							"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
						failed[i] = true
					}
				}()
				var ev events.EventBridgeEvent
				err := json.Unmarshal(m.Body, &ev)
				if err == nil {
					err = s.filter.Handle(ctx, ev)
				} else {
					err = delivery.PoisonDeadLetter(ctx, s.db, s.log, "event queue", m.Body, err, time.Now())
				}
				if err != nil && ctx.Err() == nil {
					s.log.Warn("event will be handed to the filter again", "message_id", m.ID, "error", err.Error())
				}
				failed[i] = err != nil
			})
		}
		wg.Wait()
		s.settle(settleCtx, queue, msgs, failed)
	}
}

// pollDeliveries hands batches of up to 10 messages to the delivery
// handler as the SQSEvent Lambda would build, and deletes every record not
// reported as a batch item failure.
func (s *Server) pollDeliveries(ctx context.Context, queue string) {
	arn := "arn:aws:sqs:local:000000000000:" + queue
	settleCtx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		msgs, err := s.db.ReceiveMessages(ctx, queue, 10, s.visibility, time.Second)
		if err != nil {
			s.pause(ctx, err)
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
		for i, m := range msgs {
			ev.Records[i] = events.SQSMessage{
				// The body as a string without a copy: nothing modifies
				// it (see webhook.Queue.ReceiveMessages), and the handler
				// only reads it.
				MessageId: m.ID, ReceiptHandle: m.Receipt, Body: unsafe.String(unsafe.SliceData(m.Body), len(m.Body)),
				EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: "local",
				Attributes: map[string]string{
					"ApproximateReceiveCount": strconv.Itoa(m.ReceiveCount),
					"SentTimestamp":           strconv.FormatInt(m.SentAt.UnixMilli(), 10),
				},
			}
		}
		resp, _ := s.deliver.Handle(ctx, ev)
		failed := make([]bool, len(msgs))
		for _, f := range resp.BatchItemFailures {
			for i, m := range msgs {
				failed[i] = failed[i] || m.ID == f.ItemIdentifier
			}
		}
		s.settle(settleCtx, queue, msgs, failed)
	}
}

// settle ends a handled batch like the event source mapping's
// DeleteMessageBatch: the messages not failed[i] are deleted together, with
// one log append; the failed ones are handed out again after RetryBackoff.
// ctx must not end at shutdown (context.WithoutCancel), so a handled batch
// is settled.
func (s *Server) settle(ctx context.Context, queue string, msgs []webhook.InMessage, failed []bool) {
	var done []string
	var wg sync.WaitGroup
	for i, m := range msgs {
		if !failed[i] {
			done = append(done, m.Receipt)
			continue
		}
		wg.Go(func() {
			if err := s.db.ChangeVisibility(ctx, queue, m.Receipt, RetryBackoff); err != nil {
				s.log.Error("settling queue message failed", "queue", queue, "error", err.Error())
			}
		})
	}
	if len(done) > 0 {
		if err := s.db.DeleteMessages(ctx, queue, done); err != nil {
			s.log.Error("settling queue messages failed", "queue", queue, "error", err.Error())
		}
	}
	wg.Wait()
}

func (s *Server) pause(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	s.log.Error("queue receive failed", "error", err.Error())
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}
