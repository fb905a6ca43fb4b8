package localmode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/manage"
	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Receiver is a webhook receiver for demos and tests: it verifies both
// signature schemes on every request and records what it saw. Its Fail
// hook can make it answer with an error status.
type Receiver struct {
	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	secret   string
	got      map[string]*Received // by event id
	order    []string
	attempts map[string]int
	// Fail, if set, is asked before answering; a non-zero status is sent
	// instead of 200.
	Fail func(eventType string, attempt int) int
}

// Received is what the receiver saw for one event.
type Received struct {
	EventID, EventType string
	Requests           int
	PhoneShieldOK      bool // X-PhoneShield-Signature verified
	StandardOK         bool // Standard Webhooks signature verified
	Body               []byte
	Header             http.Header
}

// StartReceiver listens on a loopback port.
func StartReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{ln: ln, got: map[string]*Received{}, attempts: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// URL is the receiver's webhook URL.
func (r *Receiver) URL() string { return "http://" + r.ln.Addr().String() + "/phoneshield-webhook" }

// SetSecret sets the endpoint secret to verify with.
func (r *Receiver) SetSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }

// Get returns what was received for an event id.
func (r *Receiver) Get(eventID string) (Received, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.got[eventID]
	if !ok {
		return Received{}, false
	}
	return *g, true
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 2<<20))
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	psOK := signature.VerifyPhoneShield(secret, body, req.Header.Get(signature.HeaderPhoneShield)) == nil
	swOK := signature.VerifyStandard([]string{secret}, req.Header, body, 0, time.Now()) == nil
	var env struct {
		EventType string `json:"event_type"`
		EventID   string `json:"event_id"`
	}
	_ = json.Unmarshal(body, &env)

	r.mu.Lock()
	g := r.got[env.EventID]
	if g == nil {
		g = &Received{EventID: env.EventID, EventType: env.EventType}
		r.got[env.EventID] = g
		r.order = append(r.order, env.EventID)
	}
	g.Requests++
	g.PhoneShieldOK, g.StandardOK, g.Body, g.Header = psOK, swOK, body, req.Header.Clone()
	n := g.Requests
	fail := r.Fail
	r.mu.Unlock()

	if !psOK || !swOK {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	if fail != nil {
		if code := fail(env.EventType, n); code != 0 {
			http.Error(w, "demo failure", code)
			return
		}
	}
	io.WriteString(w, "Webhook received")
}

// Demo registers an endpoint for a verifying receiver, publishes every
// sample event through the PutEvents port, waits for the deliveries and
// writes a table of them to out. The receiver fails call.completed's first
// attempt with a 503, to show a retry. Each run gives the samples fresh
// event ids (the originals would be dropped as duplicates on a second run).
// The returned cleanup deletes the demo endpoint and stops the receiver;
// until then the receiver keeps verifying whatever else is published.
func Demo(ctx context.Context, baseURL string, out io.Writer) (cleanup func(), err error) {
	rcv, err := StartReceiver()
	if err != nil {
		return nil, err
	}
	c := &Client{Base: baseURL}
	epID := ""
	cleanup = func() {
		if epID != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Do(ctx, "DELETE", "/v1/webhooks/"+epID, nil, nil)
			cancel()
		}
		rcv.Close()
	}
	if err := demo(ctx, c, rcv, out, &epID); err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}

func demo(ctx context.Context, c *Client, rcv *Receiver, out io.Writer, epID *string) error {
	rcv.Fail = func(eventType string, attempt int) int {
		if eventType == "call.completed" && attempt == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{
		"url": rcv.URL(), "description": "local demo receiver", "event_types": []string{"*"},
	}, &ep); err != nil {
		return fmt.Errorf("demo: register endpoint: %w", err)
	}
	rcv.SetSecret(ep.Secret)
	*epID = ep.ID
	fmt.Fprintf(out, "registered %s → %s\n", ep.ID, rcv.URL())

	// Every sample is published; those the deployment's plan does not
	// deliver (the standard plan's are three) are expected to stay
	// undelivered, as they would on that plan.
	var types struct{ Data []manage.EventType }
	if err := c.Do(ctx, "GET", "/v1/event-types", nil, &types); err != nil {
		return fmt.Errorf("demo: event types: %w", err)
	}
	var offPlan []string
	for _, t := range types.Data {
		if !t.Available {
			offPlan = append(offPlan, t.Name)
		}
	}
	samples := catalog.Samples()
	want := len(samples) - len(offPlan)
	run := manage.NewID("")[:6]
	for i, e := range samples {
		e, err := e.WithEventID(fmt.Sprintf("evt_demo_%s_%02d", run, i))
		if err != nil {
			return fmt.Errorf("demo: sample %s: %w", e.DetailType, err)
		}
		if err := c.PutEvents(ctx, []catalog.Entry{e}); err != nil {
			return fmt.Errorf("demo: publish %s: %w", e.DetailType, err)
		}
	}
	fmt.Fprintf(out, "published %d sample events through PutEvents\n", len(samples))
	if len(offPlan) > 0 {
		fmt.Fprintf(out, "%d of them are not in this deployment's plan, so not delivered: %s\n", len(offPlan), strings.Join(offPlan, ", "))
	}
	fmt.Fprintln(out)

	deadline := time.Now().Add(60 * time.Second)
	var ds []*webhook.Delivery
	for {
		var err error
		ds, err = c.Deliveries(ctx, ep.ID)
		if err != nil {
			return err
		}
		if settled(ds) == want || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	order := map[string]int{}
	for i, t := range catalog.Types() {
		order[t.Name] = i
	}
	sort.Slice(ds, func(i, j int) bool { return order[ds[i].EventType] < order[ds[j].EventType] })
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tSTATUS\tATTEMPTS\tLATENCY\tSIGNATURES OK")
	ok := 0
	for _, d := range ds {
		last := d.Attempts[len(d.Attempts)-1]
		g, _ := rcv.Get(d.EventID)
		sig := "no"
		if g.PhoneShieldOK && g.StandardOK {
			sig = "yes (both)"
		}
		if d.Status == webhook.DeliveryDelivered {
			ok++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", d.EventType, d.Status, len(d.Attempts), last.Latency.Round(10*time.Microsecond), sig)
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d of %d events delivered and verified.\n", ok, want)
	if ok != want {
		return fmt.Errorf("demo: only %d of %d events delivered", ok, want)
	}
	return nil
}

func settled(ds []*webhook.Delivery) int {
	n := 0
	for _, d := range ds {
		if d.Status != webhook.DeliveryPending {
			n++
		}
	}
	return n
}

// Client is a minimal client of local mode's two protocols, for the demo
// and tests (webhookctl is the full one).
type Client struct {
	Base string
	HTTP *http.Client
}

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Do sends a JSON request to the management API and decodes the answer
// into out. A 4xx/5xx becomes an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(raw, &struct{ Error *APIError }{e}) != nil || e.Code == "" {
			e.Message = strings.TrimSpace(string(raw))
		}
		return e
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// APIError is an error answer of the management API.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%d %s: %s: %s", e.Status, e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Deliveries returns every logged delivery of an endpoint (all pages).
func (c *Client) Deliveries(ctx context.Context, endpointID string) ([]*webhook.Delivery, error) {
	var all []*webhook.Delivery
	cursor := ""
	for range 1000 {
		var page struct {
			Data []*webhook.Delivery `json:"data"`
			Next string              `json:"next_cursor"`
		}
		if err := c.Do(ctx, "GET", "/v1/webhooks/"+endpointID+"/deliveries?limit=1000&cursor="+cursor, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	return all, nil
}

// PutEvents publishes entries through the EventBridge wire protocol and
// fails if any entry failed.
func (c *Client) PutEvents(ctx context.Context, entries []catalog.Entry) error {
	b, err := json.Marshal(map[string]any{"Entries": entries})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", c.Base+"/", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	resp, err := c.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("PutEvents: HTTP %d: %s", resp.StatusCode, raw)
	}
	var out struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("PutEvents: %w", err)
	}
	if out.FailedEntryCount > 0 {
		for _, e := range out.Entries {
			if e.ErrorCode != "" {
				return fmt.Errorf("PutEvents: %s: %s", e.ErrorCode, e.ErrorMessage)
			}
		}
	}
	return nil
}
