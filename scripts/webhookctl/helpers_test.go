package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/apiclient"
	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/localmode"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// result is one run of webhookctl.
type result struct {
	code        int
	out, errOut string
	args        []string
}

// cli runs webhookctl in process against one API.
type cli struct {
	t   *testing.T
	url string
}

// startLocal starts local mode in process, on a free loopback port.
// receiver starts a verifying receiver on a loopback port, stopped when
// the test ends.
func receiver(t *testing.T) *localmode.Receiver {
	t.Helper()
	rcv, err := localmode.StartReceiver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.Close() })
	return rcv
}

// subscribe creates an endpoint of rcv for eventTypes ("call.*,...") and
// gives rcv its secret.
func (c cli) subscribe(rcv *localmode.Receiver, eventTypes string) apiclient.Endpoint {
	c.t.Helper()
	var ep apiclient.Endpoint
	c.json(&ep, "webhooks", "create", "--url", rcv.URL(), "--event-type", eventTypes)
	rcv.SetSecret(ep.Secret)
	return ep
}

func startLocal(t *testing.T, plan webhook.Plan) (*localmode.Server, cli) {
	t.Helper()
	s, err := localmode.Start(localmode.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Plan: plan,
		Allow: egress.Loopback, AllowHTTP: true, RetryScale: 0.001,
		// The 2,000-letter DLQ test would otherwise wait out the plan's
		// per-minute limit.
		NoRateLimit: true, Concurrency: 4,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cli{t: t, url: s.URL()}
}

func (c cli) run(args ...string) result { return c.runIn("", args...) }

// runIn runs webhookctl with stdin.
func (c cli) runIn(stdin string, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"--url", c.url}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := Run(ctx, full, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, out: out.String(), errOut: errOut.String(), args: args}
}

// ok runs webhookctl and fails the test unless it exits 0.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	r.want(c.t, 0)
	return r.out
}

// json runs webhookctl --json, wants exit 0, and decodes stdout into v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	r := c.run(append([]string{"--json"}, args...)...)
	r.want(c.t, 0)
	if err := json.Unmarshal([]byte(r.out), v); err != nil {
		c.t.Fatalf("webhookctl %s: stdout is not JSON (%v):\n%s", strings.Join(r.args, " "), err, r.out)
	}
}

// want checks the exit code, and that every string in stderrHas is on
// stderr.
func (r result) want(t *testing.T, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("webhookctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, code, r.out, r.errOut)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.errOut, s) {
			t.Fatalf("webhookctl %s: stderr lacks %q:\n%s", strings.Join(r.args, " "), s, r.errOut)
		}
	}
}

// has fails unless stdout holds every string.
func (r result) has(t *testing.T, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if !strings.Contains(r.out, s) {
			t.Fatalf("webhookctl %s: stdout lacks %q:\n%s", strings.Join(r.args, " "), s, r.out)
		}
	}
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
