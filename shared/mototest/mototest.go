// Package mototest starts a real AWS-compatible server, moto_server, for
// the tests of the AWS adapters: once per test binary, on a free loopback
// port, stopped when the tests end. Tests call Reset between scenarios.
//
// When moto_server is not installed, Start skips the test — or fails it
// when the CI environment variable is set, so CI can never pass by
// skipping the AWS tests.
package mototest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region and Account are the fake region and moto's default account.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

var (
	once     sync.Once
	endpoint string
	startErr error
	proc     *exec.Cmd
)

// Start returns the URL of the shared moto server, starting it on first
// use.
func Start(tb testing.TB) string {
	tb.Helper()
	once.Do(start)
	if startErr != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("moto_server is required in CI: %v", startErr)
		}
		tb.Skipf("moto_server unavailable: %v", startErr)
	}
	return endpoint
}

func start() {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		startErr = err
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		startErr = err
		return
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	proc = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	proc.Stdout, proc.Stderr = nil, nil
	if os.Getenv("MOTO_LOG") != "" {
		proc.Stdout, proc.Stderr = os.Stderr, os.Stderr
	}
	if err := proc.Start(); err != nil {
		startErr = err
		return
	}
	endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			startErr = fmt.Errorf("moto_server did not answer on %s: %w", endpoint, err)
			proc.Process.Kill()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the shared server; call it from TestMain after m.Run.
func Stop() {
	if proc != nil && proc.Process != nil {
		proc.Process.Kill()
		proc.Wait()
	}
}

// Reset wipes every resource on the server.
func Reset(tb testing.TB) {
	tb.Helper()
	resp, err := http.Post(Start(tb)+"/moto-api/reset", "application/json", strings.NewReader(""))
	if err != nil {
		tb.Fatalf("moto reset: %v", err)
	}
	resp.Body.Close()
}

// Config returns an AWS config that talks to the moto server at url with
// static fake credentials.
func Config(url string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

// Context returns a context that ends with the test.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	return ctx
}
