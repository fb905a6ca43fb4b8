package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/localmode"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// These tests run the real scripts/local binary, built once.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "local-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "local")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building scripts/local: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	out  *strings.Builder
}

// run starts the binary and waits until it serves.
func startProc(t *testing.T, data, addr string, args ...string) *proc {
	t.Helper()
	args = append([]string{"--addr", addr, "--data", data, "--log-level", "warn"}, args...)
	cmd := exec.Command(binary, args...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr, out: out}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("local mode did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func (p *proc) client() *localmode.Client { return &localmode.Client{Base: "http://" + p.addr} }

func TestDemoThroughBinary(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "--addr", freeAddr(t), "--data", t.TempDir(), "--demo", "--exit-after-demo")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	got := string(out)
	n := len(catalog.Types())
	if want := fmt.Sprintf("%d of %d events delivered and verified", n, n); !strings.Contains(got, want) {
		t.Fatalf("demo output lacks %q:\n%s", want, got)
	}
	// call.completed fails once on purpose: 2 attempts.
	sc := bufio.NewScanner(strings.NewReader(got))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "call.completed" && (f[1] != "delivered" || f[2] != "2") {
			t.Errorf("call.completed row = %q, want delivered after 2 attempts", sc.Text())
		}
	}
}

func entry(t *testing.T, typ, id string) catalog.Entry {
	t.Helper()
	e, err := catalog.Sample(typ)
	if err == nil {
		e, err = e.WithEventID(id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func register(t *testing.T, c *localmode.Client, rcv *localmode.Receiver, types ...string) string {
	t.Helper()
	var ep struct{ ID, Secret string }
	if err := c.Do(context.Background(), "POST", "/v1/webhooks", map[string]any{"url": rcv.URL(), "event_types": types}, &ep); err != nil {
		t.Fatal(err)
	}
	rcv.SetSecret(ep.Secret)
	return ep.ID
}

func receiver(t *testing.T) *localmode.Receiver {
	t.Helper()
	r, err := localmode.StartReceiver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func wait(t *testing.T, c *localmode.Client, epID string, n int, limit time.Duration, done func(*webhook.Delivery) bool) []*webhook.Delivery {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ds, err := c.Deliveries(context.Background(), epID)
		if err == nil {
			k := 0
			for _, d := range ds {
				if done(d) {
					k++
				}
			}
			if k >= n {
				return ds
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d deliveries logged (want %d done); err %v", limit, len(ds), n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func settled(d *webhook.Delivery) bool { return d.Status != webhook.DeliveryPending }

// TestScenariosThroughBinary runs the pipeline scenarios against one real
// local-mode process, one endpoint (and event type) per scenario.
func TestScenariosThroughBinary(t *testing.T) {
	t.Parallel()
	p := startProc(t, t.TempDir(), freeAddr(t), "--retry-scale", "0.0005")
	c := p.client()
	ctx := context.Background()

	flaky, doomed, plain := receiver(t), receiver(t), receiver(t)
	flaky.Fail = func(_ string, n int) int {
		if n <= 2 {
			return 500
		}
		return 0
	}
	doomed.Fail = func(string, int) int { return 503 }
	flakyID := register(t, c, flaky, "call.completed")
	doomedID := register(t, c, doomed, "voicemail.recorded")
	plainID := register(t, c, plain, "user.*")

	dup := entry(t, "user.created", "evt_bin_dup")
	if err := c.PutEvents(ctx, []catalog.Entry{entry(t, "call.completed", "evt_bin_flaky"), entry(t, "voicemail.recorded", "evt_bin_doomed"), dup, dup}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutEvents(ctx, []catalog.Entry{dup}); err != nil {
		t.Fatal(err)
	}

	t.Run("both signatures verified and duplicates delivered once", func(t *testing.T) {
		wait(t, c, plainID, 1, 10*time.Second, settled)
		time.Sleep(300 * time.Millisecond)
		got, _ := plain.Get("evt_bin_dup")
		if got.Requests != 1 || !got.PhoneShieldOK || !got.StandardOK {
			t.Errorf("receiver saw %+v, want one request with both signatures valid", got)
		}
	})
	t.Run("fail twice then succeed", func(t *testing.T) {
		ds := wait(t, c, flakyID, 1, 15*time.Second, settled)
		if d := ds[0]; d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 3 {
			t.Errorf("got %s after %d attempts, want delivered after 3", d.Status, len(d.Attempts))
		}
	})
	t.Run("always failing ends in the DLQ after 6 attempts", func(t *testing.T) {
		ds := wait(t, c, doomedID, 1, 30*time.Second, settled)
		if d := ds[0]; d.Status != webhook.DeliveryDeadLettered || len(d.Attempts) != 6 {
			t.Fatalf("got %s after %d attempts, want dead-lettered after 6", d.Status, len(d.Attempts))
		}
		var dlq struct{ Data []*webhook.DeadLetter }
		if err := c.Do(ctx, "GET", "/v1/dlq", nil, &dlq); err != nil {
			t.Fatal(err)
		}
		if len(dlq.Data) != 1 || len(dlq.Data[0].Attempts) != 6 || dlq.Data[0].Attempts[5].StatusCode != 503 {
			t.Errorf("DLQ = %+v, want one record with 6 outcomes", dlq.Data)
		}
	})
}

// TestHangingReceiverThroughBinary waits out the real 10 s attempt timeout.
func TestHangingReceiverThroughBinary(t *testing.T) {
	t.Parallel()
	p := startProc(t, t.TempDir(), freeAddr(t), "--retry-scale", "0.001")
	c := p.client()
	rcv := receiver(t)
	var calls atomic.Int32
	rcv.Fail = func(string, int) int {
		if calls.Add(1) == 1 {
			time.Sleep(12 * time.Second)
		}
		return 0
	}
	id := register(t, c, rcv, "*")
	if err := c.PutEvents(context.Background(), []catalog.Entry{entry(t, "system.maintenance", "evt_bin_hang")}); err != nil {
		t.Fatal(err)
	}
	ds := wait(t, c, id, 1, 40*time.Second, settled)
	d := ds[0]
	if d.Status != webhook.DeliveryDelivered || len(d.Attempts) != 2 {
		t.Fatalf("got %s after %d attempts, want delivered after 2", d.Status, len(d.Attempts))
	}
	if a := d.Attempts[0]; !strings.Contains(a.Error, "timeout") || a.Latency < 10*time.Second || a.Latency > 12*time.Second {
		t.Errorf("first attempt = %q after %v, want a timeout at 10s", a.Error, a.Latency)
	}
}

// TestSSRFThroughBinary: a metadata URL is refused at save time; and an
// endpoint saved while loopback was allowed is refused at dial time once
// the process runs with no allow-list (the guard decides before connecting).
func TestSSRFThroughBinary(t *testing.T) {
	t.Parallel()
	data, addr := t.TempDir(), freeAddr(t)
	p := startProc(t, data, addr, "--retry-scale", "0.0005")
	c := p.client()
	ctx := context.Background()
	err := c.Do(ctx, "POST", "/v1/webhooks", map[string]any{"url": "http://169.254.169.254/latest", "event_types": []string{"*"}}, nil)
	var apiErr *localmode.APIError
	if !errors.As(err, &apiErr) || apiErr.Field != "url" {
		t.Errorf("metadata URL: %v, want an error naming url", err)
	}
	rcv := receiver(t)
	id := register(t, c, rcv, "*")
	p.kill()

	p = startProc(t, data, addr, "--allow", "", "--retry-scale", "0.0005")
	c = p.client()
	if err := c.PutEvents(ctx, []catalog.Entry{entry(t, "call.received", "evt_bin_ssrf")}); err != nil {
		t.Fatal(err)
	}
	ds := wait(t, c, id, 1, 10*time.Second, func(d *webhook.Delivery) bool { return len(d.Attempts) > 0 })
	if a := ds[0].Attempts[0]; !strings.Contains(a.Error, "SSRF") {
		t.Errorf("attempt error = %q, want a refusal by the SSRF guard", a.Error)
	}
	if _, reached := rcv.Get("evt_bin_ssrf"); reached {
		t.Error("the receiver was reached")
	}
}

// TestKillDashNineMidRetry kills the process while retries are scheduled
// and events are freshly accepted, restarts it on the same data, and
// checks every event is delivered, and answered 2xx exactly once, by a
// receiver that now succeeds (every attempt before the kill failed, so
// the restart has nothing to repeat).
func TestKillDashNineMidRetry(t *testing.T) {
	t.Parallel()
	data, addr := t.TempDir(), freeAddr(t)
	p := startProc(t, data, addr, "--retry-scale", "0.002") // retry delays: 20ms, 120ms, 600ms, 3.6s, 14.4s
	c := p.client()
	ctx := context.Background()
	rcv := receiver(t)
	var healthy atomic.Bool
	var successes atomic.Int32
	rcv.Fail = func(string, int) int {
		if healthy.Load() {
			successes.Add(1)
			return 0
		}
		return 500
	}
	id := register(t, c, rcv, "*")
	const n = 20
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("evt_kill_%02d", i))
	}
	for i := 0; i < n/2; i++ {
		if err := c.PutEvents(ctx, []catalog.Entry{entry(t, "call.received", ids[i])}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until every first half event has failed at least 3 times (so a
	// retry is scheduled minutes-scaled ahead), then accept the second half
	// and kill -9 at once.
	wait(t, c, id, n/2, 20*time.Second, func(d *webhook.Delivery) bool { return len(d.Attempts) >= 3 })
	for i := n / 2; i < n; i++ {
		if err := c.PutEvents(ctx, []catalog.Entry{entry(t, "call.received", ids[i])}); err != nil {
			t.Fatal(err)
		}
	}
	p.kill()
	// A request the dead process sent just before the kill may still be
	// in the receiver's hands: let it fail too (it takes microseconds),
	// so that every 2xx counted below comes from the restarted process.
	time.Sleep(500 * time.Millisecond)
	healthy.Store(true)

	p = startProc(t, data, addr, "--retry-scale", "0.002")
	c = p.client()
	ds := wait(t, c, id, n, 60*time.Second, settled)
	for _, d := range ds {
		if d.Status != webhook.DeliveryDelivered {
			t.Errorf("%s: %s after %d attempts", d.EventID, d.Status, len(d.Attempts))
		}
	}
	for _, e := range ids {
		if got, ok := rcv.Get(e); !ok || got.PhoneShieldOK == false {
			t.Errorf("%s never delivered verified", e)
		}
	}
	if len(ds) != n {
		t.Errorf("%d deliveries logged, want %d", len(ds), n)
	}
	if got := successes.Load(); got != n {
		t.Errorf("the receiver answered 2xx %d times for %d events, want once each", got, n)
	}
}

// TestBadFlagsNameTheFlag: a bad flag value stops the binary before it
// starts, with an error naming the flag. (A huge --retry-scale used to
// overflow the retry delays: every failing delivery stalled at attempt 1.)
func TestBadFlagsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--retry-scale", "inf"}, "--retry-scale"},
		{[]string{"--retry-scale", "nan"}, "--retry-scale"},
		{[]string{"--retry-scale", "1e12"}, "--retry-scale"},
		{[]string{"--retry-scale", "-1"}, "--retry-scale"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--concurrency", "100000"}, "--concurrency"},
		{[]string{"--plan", "platinum"}, "--plan"},
		{[]string{"--allow", "10.0.0.0/33"}, "--allow"},
		{[]string{"--log-level", "loud"}, "--log-level"},
	} {
		args := append([]string{"--addr", freeAddr(t), "--data", t.TempDir()}, tc.args...)
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.flag) {
			t.Errorf("local %s: %v, output %q; want a failure naming %s", strings.Join(tc.args, " "), err, out, tc.flag)
		}
	}
}
