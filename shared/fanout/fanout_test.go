package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/webhook"
)

func ep(id string, status webhook.EndpointStatus, types ...string) *webhook.Endpoint {
	return &webhook.Endpoint{ID: id, Status: status, EventTypes: types}
}

func TestMatch(t *testing.T) {
	eps := []*webhook.Endpoint{
		ep("exact", webhook.StatusActive, "call.completed"),
		ep("group", webhook.StatusActive, "call.*"),
		ep("all", webhook.StatusActive, "*"),
		ep("other", webhook.StatusActive, "voicemail.*", "user.created"),
		ep("off", webhook.StatusInactive, "*"),
		ep("prefix-trap", webhook.StatusActive, "call"),
	}
	for _, tc := range []struct {
		typ         string
		plan        webhook.Plan
		want        string
		wantSkipped string
	}{
		{"call.completed", webhook.Enterprise, "[exact group all]", "map[off:endpoint is inactive]"},
		{"call.greeting", webhook.Business, "[group all]", "map[off:endpoint is inactive]"},
		{"user.created", webhook.Enterprise, "[all other]", "map[off:endpoint is inactive]"},
		{"transcription.started", webhook.Enterprise, "[all]", "map[off:endpoint is inactive]"},
		{"call.greeting", webhook.Standard, "[]", "map[all:event type call.greeting is not available on the standard plan group:event type call.greeting is not available on the standard plan off:endpoint is inactive]"},
		{"call.completed", webhook.Standard, "[exact group all]", "map[off:endpoint is inactive]"},
	} {
		t.Run(tc.typ+"/"+tc.plan.Name, func(t *testing.T) {
			m, skipped := Match(eps, &webhook.Event{Type: tc.typ}, tc.plan)
			var ids []string
			for _, e := range m {
				ids = append(ids, e.ID)
			}
			if got := fmt.Sprint(ids); got != tc.want && !(got == "[]" && tc.want == "[]") {
				t.Errorf("match = %s, want %s", got, tc.want)
			}
			if got := fmt.Sprint(skipped); got != tc.wantSkipped {
				t.Errorf("skipped = %s, want %s", got, tc.wantSkipped)
			}
		})
	}
}

// memKeys is a minimal in-memory Idempotency for fan-out tests.
type memKeys struct {
	mu   sync.Mutex
	done map[string]bool
	held map[string]bool
}

func (k *memKeys) Acquire(_ context.Context, key string, n int, _ time.Duration) (webhook.Lease, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done[key] {
		return webhook.Lease{}, webhook.ErrDone
	}
	if k.held[key] {
		return webhook.Lease{}, webhook.ErrHeld
	}
	k.held[key] = true
	return webhook.Lease{Key: key, Attempt: n, Token: "t"}, nil
}

func (k *memKeys) Finish(ctx context.Context, l webhook.Lease) error {
	if err := ctx.Err(); err != nil { // as a real store's call would
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.done[l.Key], k.held[l.Key] = true, false
	return nil
}

func (k *memKeys) Release(_ context.Context, l webhook.Lease) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held[l.Key] = false
	return nil
}

type memQueue struct {
	mu     sync.Mutex
	queues map[string]int
	fail   string // queue name that fails
	sent   func() // if set, called after each send
}

func (q *memQueue) SendMessages(_ context.Context, name string, msgs []webhook.OutMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if name == q.fail {
		return errors.New("queue unavailable")
	}
	q.queues[name] += len(msgs)
	if q.sent != nil {
		q.sent()
	}
	return nil
}

type list []*webhook.Endpoint

func (l list) ListEndpoints(context.Context) ([]*webhook.Endpoint, error) { return l, nil }

// eachQueue is a memQueue that can also send one message to each of
// several queues in one call, as the embedded store can.
type eachQueue struct {
	memQueue
	calls int // SendEach calls
}

func (q *eachQueue) SendMessages(context.Context, string, []webhook.OutMessage) error {
	return errors.New("SendMessages called; want SendEach")
}

func (q *eachQueue) SendEach(_ context.Context, queues []string, bodies [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if len(queues) != len(bodies) {
		return fmt.Errorf("%d queues, %d bodies", len(queues), len(bodies))
	}
	for _, name := range queues {
		if name == q.fail {
			return errors.New("queue unavailable")
		}
	}
	for _, name := range queues {
		q.queues[name]++
	}
	if q.sent != nil {
		q.sent()
	}
	return nil
}

func TestPublish(t *testing.T) {
	each := &eachQueue{memQueue: memQueue{queues: map[string]int{}}}
	for _, tt := range []struct {
		name string
		q    delivery.MessageSender
		mem  *memQueue
	}{
		{"a send per endpoint", &memQueue{queues: map[string]int{}}, nil},
		{"one SendEach", each, &each.memQueue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := tt.mem
			if mem == nil {
				mem = tt.q.(*memQueue)
			}
			keys := &memKeys{done: map[string]bool{}, held: map[string]bool{}}
			f := &Fanout{Endpoints: list{ep("a", webhook.StatusActive, "*"), ep("b", webhook.StatusActive, "call.*"), ep("c", webhook.StatusActive, "user.*")},
				Keys: keys, Queue: tt.q, Plan: webhook.Enterprise, QueueName: func(id string) string { return "q-" + id }}
			ev := &webhook.Event{ID: "evt_1", Type: "call.received"}
			res, err := f.Publish(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(res.Endpoints)
			if got, want := fmt.Sprint(res.Endpoints, mem.queues), "[a b] map[q-a:1 q-b:1]"; got != want {
				t.Errorf("published to %s, want %s", got, want)
			}
			res, err = f.Publish(context.Background(), ev)
			if err != nil || !res.Duplicate {
				t.Errorf("second publish = %+v, %v; want a duplicate", res, err)
			}
			if got, want := fmt.Sprint(mem.queues), "map[q-a:1 q-b:1]"; got != want {
				t.Errorf("after duplicate: %s, want %s", got, want)
			}
			// A failing queue fails the publish and leaves the key unfinished.
			mem.fail = "q-b"
			if _, err := f.Publish(context.Background(), &webhook.Event{ID: "evt_2", Type: "call.received"}); err == nil {
				t.Error("publish with a failing queue = nil error")
			}
			if keys.done["event:evt_2"] {
				t.Error("failed fan-out was marked done")
			}
			// An event too big to queue as a delivery task is invalid, and
			// nothing is sent for it.
			mem.fail = ""
			before := fmt.Sprint(mem.queues)
			big := &webhook.Event{ID: "evt_3", Type: "call.received", Data: json.RawMessage(`"` + strings.Repeat("x", webhook.MaxMessageSize) + `"`)}
			_, err = f.Publish(context.Background(), big)
			if !errors.Is(err, delivery.ErrTaskTooBig) || webhook.FieldOf(err) != "detail" || fmt.Sprint(mem.queues) != before {
				t.Errorf("publish of a %d-byte event: %v (kind %s), queues %v; want an invalid error naming detail, nothing sent", len(big.Data), err, webhook.KindOf(err), mem.queues)
			}
			// The caller cancels once the tasks are queued (local mode
			// stopping): the event is still recorded as fanned out, not
			// left to be fanned out again.
			ctx, cancel := context.WithCancel(context.Background())
			mem.sent = cancel
			if _, err := f.Publish(ctx, &webhook.Event{ID: "evt_4", Type: "call.received"}); err != nil || !keys.done["event:evt_4"] {
				t.Errorf("publish cancelled after its sends: %v, done %v; want it finished", err, keys.done["event:evt_4"])
			}
			mem.sent = nil
		})
	}
	if each.calls != 3 {
		t.Errorf("SendEach was called %d times for 3 fan-outs that reached the queue, want 3", each.calls)
	}
}

func TestCache(t *testing.T) {
	now := time.Unix(0, 0)
	calls := 0
	store := listerFunc(func() ([]*webhook.Endpoint, error) {
		calls++
		return []*webhook.Endpoint{ep(fmt.Sprint(calls), webhook.StatusActive, "*")}, nil
	})
	c := &Cache{Store: store, TTL: 10 * time.Second, Now: func() time.Time { return now }}
	get := func() string {
		eps, err := c.ListEndpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return eps[0].ID
	}
	for _, step := range []struct {
		advance    time.Duration
		invalidate bool
		want       string
	}{
		{0, false, "1"}, {5 * time.Second, false, "1"}, {6 * time.Second, false, "2"}, {0, true, "3"}, {time.Second, false, "3"},
	} {
		now = now.Add(step.advance)
		if step.invalidate {
			c.Invalidate()
		}
		if got := get(); got != step.want {
			t.Errorf("after +%v (invalidate %v): list from fetch %s, want %s", step.advance, step.invalidate, got, step.want)
		}
	}
}

type listerFunc func() ([]*webhook.Endpoint, error)

func (f listerFunc) ListEndpoints(context.Context) ([]*webhook.Endpoint, error) { return f() }

// storeFunc lists from a function and gets from a map.
type storeFunc struct {
	listerFunc
	byID map[string]*webhook.Endpoint
	gets int
}

func (s *storeFunc) GetEndpoint(_ context.Context, id string) (*webhook.Endpoint, error) {
	s.gets++
	if ep, ok := s.byID[id]; ok {
		return ep, nil
	}
	return nil, webhook.ErrNotFound
}

func TestCacheGetEndpoint(t *testing.T) {
	now := time.Unix(0, 0)
	status := webhook.StatusActive
	lists := 0
	store := &storeFunc{byID: map[string]*webhook.Endpoint{"whk_new": ep("whk_new", webhook.StatusActive, "*")}}
	store.listerFunc = func() ([]*webhook.Endpoint, error) {
		lists++
		return []*webhook.Endpoint{ep("whk_a", status, "*"), ep("whk_b", webhook.StatusActive, "*")}, nil
	}
	c := &Cache{Store: store, TTL: time.Second, Now: func() time.Time { return now }}
	ctx := context.Background()
	get := func(id string) (*webhook.Endpoint, error) {
		t.Helper()
		return c.GetEndpoint(ctx, id)
	}
	if e, err := get("whk_a"); err != nil || e.ID != "whk_a" || e.Status != webhook.StatusActive {
		t.Fatalf("GetEndpoint(whk_a) = %v, %v", e, err)
	}
	if e, err := get("whk_b"); err != nil || e.ID != "whk_b" || lists != 1 || store.gets != 0 {
		t.Fatalf("GetEndpoint(whk_b) = %v, %v after %d lists, %d gets; want one list, no get", e, err, lists, store.gets)
	}
	// Not in the list: read from the store.
	if e, err := get("whk_new"); err != nil || e.ID != "whk_new" || store.gets != 1 {
		t.Fatalf("GetEndpoint(whk_new) = %v, %v after %d gets", e, err, store.gets)
	}
	if _, err := get("whk_gone"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("GetEndpoint(whk_gone) = %v, want ErrNotFound", err)
	}
	// A change in the store is seen once the TTL has passed, or at once
	// after Invalidate.
	status = webhook.StatusInactive
	if e, _ := get("whk_a"); e.Status != webhook.StatusActive {
		t.Fatal("refreshed within the TTL")
	}
	now = now.Add(time.Second)
	if e, _ := get("whk_a"); e.Status != webhook.StatusInactive || lists != 2 {
		t.Fatalf("after the TTL: status %s after %d lists", e.Status, lists)
	}
	status = webhook.StatusActive
	c.Invalidate()
	if e, _ := get("whk_a"); e.Status != webhook.StatusActive || lists != 3 {
		t.Fatalf("after Invalidate: status %s after %d lists", e.Status, lists)
	}
	// Without a getter, an id the list lacks is not found.
	c2 := &Cache{Store: store.listerFunc, TTL: time.Second, Now: func() time.Time { return now }}
	if _, err := c2.GetEndpoint(ctx, "whk_new"); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("GetEndpoint without a getter = %v, want ErrNotFound", err)
	}
}

// TestStoredFiltersFollowThePlan: a filter saved while the deployment was
// enterprise applies there, and not once the deployment runs a plan
// without custom filters (DESIGN §6), as the plan's event types and rate
// limit apply to what was saved before.
func TestStoredFiltersFollowThePlan(t *testing.T) {
	for _, tc := range []struct {
		plan     webhook.Plan
		filtered bool
	}{
		{webhook.Enterprise, true},
		{webhook.Business, false},
	} {
		e := ep("a", webhook.StatusActive, "*")
		e.Version = 1
		e.Filter = json.RawMessage(`{"field":"duration_seconds","op":">","value":120}`)
		f := &Fanout{Endpoints: list{e}, Keys: &memKeys{done: map[string]bool{}, held: map[string]bool{}}, Queue: &memQueue{queues: map[string]int{}},
			Plan: tc.plan, QueueName: func(id string) string { return "q-" + id }}
		ev := &webhook.Event{ID: "evt_1", Type: "call.completed", Data: json.RawMessage(`{"duration_seconds":30}`)}
		res, err := f.Publish(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Filtered) == 1 && len(res.Endpoints) == 0; got != tc.filtered {
			t.Errorf("%s plan: sent to %v, filtered %v; want filtered %t", tc.plan.Name, res.Endpoints, res.Filtered, tc.filtered)
		}
	}
}

// TestStoredFilterSavedBeforeTheNumberRules: a filter stored before the
// input rules on numbers (an id from 2^53 on, refused when given now)
// still applies: it used to be read by the input rules, failed to
// compile, and turned down every event.
func TestStoredFilterSavedBeforeTheNumberRules(t *testing.T) {
	e := ep("a", webhook.StatusActive, "*")
	e.Version = 1
	e.Filter = json.RawMessage(`{"field":"duration_seconds","op":"<","value":9007199254740992}`)
	f := &Fanout{Endpoints: list{e}, Keys: &memKeys{done: map[string]bool{}, held: map[string]bool{}}, Queue: &memQueue{queues: map[string]int{}},
		Plan: webhook.Enterprise, QueueName: func(id string) string { return "q-" + id }}
	res, err := f.Publish(context.Background(), &webhook.Event{ID: "evt_1", Type: "call.completed", Data: json.RawMessage(`{"duration_seconds":30}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 1 || len(res.Filtered) != 0 {
		t.Errorf("sent to %v, filtered %v; want the event sent", res.Endpoints, res.Filtered)
	}
}
