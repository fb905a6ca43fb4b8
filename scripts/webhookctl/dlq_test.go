package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/apiclient"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// countingReceiver fails every request until healthy, then answers 200
// and counts what it accepted, by event id.
type countingReceiver struct {
	healthy  atomic.Bool
	failed   atomic.Int64
	mu       sync.Mutex
	accepted map[string]int
}

func (c *countingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !c.healthy.Load() {
		c.failed.Add(1)
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
		return
	}
	var env struct {
		EventID string `json:"event_id"`
	}
	json.Unmarshal(body, &env)
	c.mu.Lock()
	c.accepted[env.EventID]++
	c.mu.Unlock()
}

func (c *countingReceiver) counts() (distinct, total int, dups []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.accepted {
		total += n
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", id, n))
		}
	}
	return len(c.accepted), total, dups
}

// TestDLQRedrive2000 dead-letters 2,000 deliveries (a receiver that always
// fails, max_retries 0), then redrives them all with one command to the
// receiver, now healthy: every event arrives exactly once and the DLQ ends
// empty.
func TestDLQRedrive2000(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 deliveries")
	}
	const n = 2000
	start := time.Now()
	s, c := startLocal(t, webhook.Enterprise)
	rcv := &countingReceiver{accepted: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	var ep apiclient.Endpoint
	c.json(&ep, "webhooks", "create", "--url", srv.URL+"/hook", "--event-type", "call.completed", "--max-retries", "0")

	// Publish 2,000 distinct events, ten to a PutEvents call.
	sample, err := catalog.Sample("call.completed")
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	json.Unmarshal([]byte(sample.Detail), &detail)
	pub := &apiclient.Client{BaseURL: s.URL()}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			for {
				first := next.Add(10) - 10
				if first >= n {
					return
				}
				var batch []apiclient.PutEventsEntry
				for i := first; i < first+10; i++ {
					detail := map[string]any{"environment": detail["environment"], "data": detail["data"], "event_id": fmt.Sprintf("evt_dlq_%04d", i)}
					b, _ := json.Marshal(detail)
					batch = append(batch, apiclient.PutEventsEntry{Source: "phoneshield", DetailType: "call.completed", Detail: string(b)})
				}
				res, _, err := pub.PutEvents(context.Background(), batch)
				if err != nil || res.FailedEntryCount != 0 {
					t.Errorf("PutEvents: %v, %+v", err, res)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	var counts apiclient.DLQCounts
	eventually(t, 3*time.Minute, "2,000 dead letters", func() bool {
		c.json(&counts, "dlq", "counts")
		return counts.Total == n
	})
	seeded := time.Since(start)
	r := c.run("dlq", "counts")
	r.want(t, 0)
	r.has(t, fmt.Sprintf("total: %d", n), fmt.Sprintf("%s  %d", ep.ID, n), fmt.Sprintf("call.completed  %d", n))
	if rcv.failed.Load() != n {
		t.Fatalf("the receiver failed %d requests, want %d (max_retries 0)", rcv.failed.Load(), n)
	}

	// The receiver recovers; one command redrives everything, in bounded
	// calls, with a counter on stderr (not a terminal).
	rcv.healthy.Store(true)
	r = c.run("dlq", "redrive", "--all", "--limit", "250")
	r.want(t, 0, "redriven 250/2000", "redriven 2000/2000")
	r.has(t, "redriven 2000, skipped 0, remaining 0")
	if lines := strings.Count(r.errOut, "\n"); lines != n/250 {
		t.Errorf("progress lines = %d, want %d:\n%s", lines, n/250, r.errOut)
	}

	eventually(t, 3*time.Minute, "2,000 redelivered events", func() bool {
		distinct, _, _ := rcv.counts()
		return distinct == n
	})
	// Let any straggling duplicate arrive before counting.
	time.Sleep(500 * time.Millisecond)
	distinct, total, dups := rcv.counts()
	if distinct != n || total != n || len(dups) > 0 {
		t.Fatalf("receiver: %d distinct events, %d requests, duplicates %v; want %d exactly once", distinct, total, dups, n)
	}
	for i := range n {
		if id := fmt.Sprintf("evt_dlq_%04d", i); rcv.accepted[id] != 1 {
			t.Fatalf("event %s arrived %d times", id, rcv.accepted[id])
		}
	}
	c.json(&counts, "dlq", "counts")
	if counts.Total != 0 {
		t.Fatalf("DLQ after the redrive: %+v", counts)
	}
	c.run("dlq", "counts").has(t, "total: 0")
	var delivered apiclient.List[apiclient.Delivery]
	c.json(&delivered, "webhooks", "deliveries", ep.ID, "--status", "delivered", "--limit", "1000", "--all")
	if len(delivered.Data) != n {
		t.Errorf("delivery log: %d delivered, want %d", len(delivered.Data), n)
	}
	t.Logf("seeded %d dead letters in %v; redrove and delivered them in %v", n, seeded.Round(time.Millisecond), (time.Since(start) - seeded).Round(time.Millisecond))
}
