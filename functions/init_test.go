package functions

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/awsapp"
	"github.com/phoneshield/webhooks/shared/webhook"
)

var names = []string{"filter", "deliver"}

// build compiles the functions for this machine with the Lambda build
// flags (scripts/build-lambdas.sh builds arm64 for AWS; the code is the same).
func build(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, n := range names {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", filepath.Join(dir, n), "./"+n)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("build %s: %v\n%s", n, err, out)
		}
	}
	return dir
}

// runtimeAPI is a stand-in for the Lambda Runtime API: it reports when a
// bootstrap first asks for an invocation — the moment it is ready — and
// then holds the request open.
func runtimeAPI(tb testing.TB) (addr string, ready <-chan time.Time) {
	tb.Helper()
	ch := make(chan time.Time, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/2018-06-01/runtime/invocation/next" {
			select {
			case ch <- time.Now():
			default:
			}
			<-r.Context().Done()
			return
		}
		http.Error(w, "unexpected "+r.URL.Path, 404)
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), ch
}

func env(api string) []string {
	cfg := awsapp.Config{Plan: webhook.Enterprise, EndpointsTable: "ps-endpoints", DeliveriesTable: "ps-deliveries",
		RateLimitsTable: "ps-rate-limits", QueuePrefix: "ps-", DLQURL: "https://sqs.us-east-1.amazonaws.com/123456789012/ps-dlq",
		LogTTL: 30 * 24 * time.Hour, EndpointCacheTTL: awsapp.DefaultEndpointCacheTTL}
	out := []string{"AWS_LAMBDA_RUNTIME_API=" + api, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST"}
	for k, v := range cfg.Env() {
		out = append(out, k+"="+v)
	}
	return out
}

// initTime execs bin and returns the time until it asks for work.
func initTime(tb testing.TB, bin string) time.Duration {
	addr, ready := runtimeAPI(tb)
	cmd := exec.Command(bin)
	cmd.Env = env(addr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	select {
	case t := <-ready:
		return t.Sub(start)
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s never became ready", bin)
		return 0
	}
}

// TestBootstrapsStartAndAskForWork checks each bootstrap starts with a
// valid environment and reaches the runtime API (no figures asserted).
func TestBootstrapsStartAndAskForWork(t *testing.T) {
	dir := build(t)
	for _, n := range names {
		if d := initTime(t, filepath.Join(dir, n)); d <= 0 {
			t.Errorf("%s: init time %v", n, d)
		}
	}
}

// BenchmarkInit reports each bootstrap's size and its init time from exec
// to ready, beside a baseline of exec'ing a trivial Go program that
// only asks the runtime API for work.
func BenchmarkInit(b *testing.B) {
	dir := build(b)
	base := filepath.Join(dir, "baseline")
	src := filepath.Join(dir, "baseline.go")
	os.WriteFile(src, []byte(`package main
import ("net/http";"os")
func main(){ http.Get("http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/invocation/next") }`), 0o644)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", base, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	for _, n := range append([]string{"baseline"}, names...) {
		bin := filepath.Join(dir, n)
		b.Run(n, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				total += initTime(b, bin)
			}
			st, _ := os.Stat(bin)
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-init")
			b.ReportMetric(float64(st.Size())/1e6, "MB")
		})
	}
}
