// Command local runs PhoneShield Webhooks on one machine, no AWS account:
// the whole pipeline behind one port that speaks EventBridge's PutEvents
// protocol and serves the management API.
//
//	go run ./scripts/local --demo
//
// Flags:
//
//	--addr 127.0.0.1:4000   listen address
//	--data .data            data folder (embedded, persistent store)
//	--plan enterprise       standard | business | enterprise
//	--allow loopback        address ranges deliveries may reach (SSRF guard exceptions)
//	--retry-scale 1         multiply retry delays (0.001 turns 10 s into 10 ms)
//	--attempt-timeout 10s   whole-attempt timeout
//	--concurrency 2         pollers per endpoint queue (batches of 10)
//	--no-rate-limit         turn the plan's per-endpoint rate limit off (benchmarks)
//	--demo                  register a verifying receiver and publish every sample
//	--exit-after-demo       stop once the demo has printed its table
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/phoneshield/webhooks/shared/egress"
	"github.com/phoneshield/webhooks/shared/localmode"
	"github.com/phoneshield/webhooks/shared/webhook"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4000", "listen address")
	data := fs.String("data", ".data", "data folder")
	planName := fs.String("plan", "enterprise", "plan: standard, business or enterprise")
	allow := fs.String("allow", "loopback", "comma-separated address ranges deliveries may reach despite the SSRF guard (CIDRs, IPs, 'loopback'; '' for none)")
	scale := fs.Float64("retry-scale", 0, "multiply retry delays by this fraction, up to 1 (default 1; 0.01 with --demo)")
	timeout := fs.Duration("attempt-timeout", 10*time.Second, "whole-attempt timeout")
	conc := fs.Int("concurrency", 2, "pollers per endpoint queue")
	demo := fs.Bool("demo", false, "run the demo")
	exit := fs.Bool("exit-after-demo", false, "stop after the demo")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	noLimit := fs.Bool("no-rate-limit", false, "turn the plan's per-endpoint rate limit off (benchmarks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	plan, err := webhook.PlanNamed(*planName)
	if err != nil {
		return fmt.Errorf("--plan: %w", err)
	}
	prefixes, err := egress.ParseAllow(*allow)
	if err != nil {
		return fmt.Errorf("--allow: %w", err)
	}
	if !(*scale >= 0 && *scale <= 1) { // NaN too
		return fmt.Errorf("--retry-scale: must be a fraction above 0 up to 1 (it shortens retry delays; 0 for the default), got %v", *scale)
	}
	if *conc < 1 || *conc > localmode.MaxConcurrency {
		return fmt.Errorf("--concurrency: must be 1 to %d, got %d", localmode.MaxConcurrency, *conc)
	}
	if *scale == 0 {
		*scale = 1
		if *demo {
			*scale = 0.01
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logOut := os.Stderr
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: lvl}))
	if *demo && *level == "info" {
		// Keep the demo's table readable: only warnings and errors.
		log = slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	slog.SetDefault(log)

	srv, err := localmode.Start(localmode.Config{
		Addr: *addr, DataDir: *data, Plan: plan, Allow: prefixes, AllowHTTP: true,
		RetryScale: *scale, AttemptTimeout: *timeout, Concurrency: *conc, NoRateLimit: *noLimit, Logger: log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Printf("PhoneShield Webhooks local mode on %s (plan %s, data in %s)\n", srv.URL(), plan.Name, *data)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *demo {
		cleanup, err := localmode.Demo(ctx, srv.URL(), os.Stdout)
		if err != nil {
			return err
		}
		defer cleanup()
		if *exit {
			return nil
		}
		fmt.Printf("\nStill serving on %s — try:\n  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 aws events put-events --endpoint-url %s --entries file://events/samples/call.completed.json\n  curl -s %s/v1/webhooks\nCtrl-C stops.\n", srv.URL(), srv.URL(), srv.URL())
	}
	<-ctx.Done()
	return nil
}
