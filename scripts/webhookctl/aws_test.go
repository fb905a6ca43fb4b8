package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/phoneshield/webhooks/shared/apiclient"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// awsEnv gives the AWS SDK static credentials and a region from the
// environment, and keeps it away from the machine's own configuration.
func awsEnv(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDWEBHOOKCTLTEST", "AWS_SECRET_ACCESS_KEY": "test-secret-key", "AWS_SESSION_TOKEN": "test-session-token",
		"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_CLOUDFORMATION": "", "AWS_ENDPOINT_URL_EVENTBRIDGE": "",
		EnvStack: "", EnvURL: "",
	} {
		t.Setenv(k, v)
	}
}

// checkSigV4 verifies r's SigV4 signature by signing a copy of it, with
// the same signed headers and time, and comparing; it returns why not.
func checkSigV4(r *http.Request, body []byte, service, region string) error {
	auth, date := r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date")
	if len(date) != len("20060102T150405Z") {
		return fmt.Errorf("Authorization %q, X-Amz-Date %q: not signed", auth, date)
	}
	wantPrefix := fmt.Sprintf("AWS4-HMAC-SHA256 Credential=AKIDWEBHOOKCTLTEST/%s/%s/%s/aws4_request,", date[:8], region, service)
	if !strings.HasPrefix(auth, wantPrefix) {
		return fmt.Errorf("Authorization = %q, want prefix %q", auth, wantPrefix)
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != "test-session-token" {
		return fmt.Errorf("X-Amz-Security-Token = %q", tok)
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	at, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return err
	}
	cp, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	cp.ContentLength = int64(len(body))
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			cp.Header.Set(h, r.Header.Get(h))
		}
	}
	cp.Header.Del("X-Amz-Date")
	cp.Header.Del("X-Amz-Security-Token")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: "AKIDWEBHOOKCTLTEST", SecretAccessKey: "test-secret-key", SessionToken: "test-session-token"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return err
	}
	if got := cp.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature does not verify:\n got  %s\n want %s", auth, got)
	}
	return nil
}

func TestSigV4(t *testing.T) {
	awsEnv(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := checkSigV4(r, body, "execute-api", "eu-west-3"); err != nil {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":%q}`, err.Error())
			return
		}
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		switch r.Method + " " + r.URL.Path {
		case "GET /v1/plan":
			w.Write([]byte(`{"name":"business","max_endpoints":10,"requests_per_minute":100,"endpoints_used":2}`))
		case "PATCH /v1/webhooks/whk_1":
			w.Write([]byte(`{"id":"whk_1","url":"https://example.com/h","event_types":["*"],"status":"active","description":"signed","version":3}`))
		case "GET /v1/dlq":
			w.Write([]byte(`{"data":[],"next_cursor":""}`))
		case "POST /v1/dlq/redrive":
			w.Write([]byte(`{"done":2,"remaining":0}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"no such route"}}`))
		}
	}))
	defer srv.Close()
	c := cli{t: t, url: "http://127.0.0.1:1"} // --url is ignored with --aws

	c.run("--aws", "--api-url", srv.URL, "plan").has(t, "business", "2 of 10 used")
	// GET with a query, PATCH and POST with bodies; --api-url implies --aws.
	c.run("--api-url", srv.URL, "dlq", "list", "--endpoint", "whk_1", "--since", "2026-01-01T00:00:00Z").has(t, "no dead letters")
	c.run("--api-url", srv.URL, "webhooks", "update", "whk_1", "--description", "signed").has(t, "signed", "version:     3")
	c.run("--aws", "--api-url", srv.URL, "dlq", "redrive", "--all").has(t, "redriven 2")
	if len(seen) != 4 {
		t.Fatalf("signed requests accepted: %v", seen)
	}

	// An unsigned request is refused by the test server (a sanity check
	// of the check), which webhookctl reports as exit 1, not 5.
	c2 := cli{t: t, url: srv.URL}
	c2.run("plan").want(t, ExitError, "webhookctl: Authorization")

	// Region: from --region over the environment.
	c.run("--aws", "--region", "us-west-2", "--api-url", srv.URL, "plan").want(t, ExitError, "/us-west-2/execute-api/aws4_request")

	// No credentials at all.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	c.run("--aws", "--api-url", srv.URL, "plan").want(t, ExitError, "sign request")
}

func TestRegionOfAPI(t *testing.T) {
	for in, want := range map[string]string{
		"https://abc123.execute-api.eu-central-1.amazonaws.com":       "eu-central-1",
		"https://abc123.execute-api.us-east-1.amazonaws.com/prod/":    "us-east-1",
		"http://127.0.0.1:4000":                                       "",
		"https://api.example.com/execute-api":                         "",
		"https://abc.execute-api.cn-north-1.amazonaws.com.cn/default": "cn-north-1",
	} {
		if got := regionOfAPI(in); got != want {
			t.Errorf("regionOfAPI(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestStack finds the API and the bus through a (fake) CloudFormation
// endpoint, then manages and publishes through local mode as if it were
// the stack: API calls signed with SigV4, events through the AWS SDK's
// EventBridge client.
func TestStack(t *testing.T) {
	awsEnv(t)
	s, _ := startLocal(t, webhook.Enterprise)
	rcv := receiver(t)

	var cfnCalls int
	cfn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := checkSigV4(r, body, "cloudformation", "eu-west-3"); err != nil {
			t.Errorf("CloudFormation request: %v", err)
		}
		cfnCalls++
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ParseForm()
		if r.Form.Get("Action") != "DescribeStacks" {
			t.Errorf("CloudFormation action %q", r.Form.Get("Action"))
		}
		w.Header().Set("Content-Type", "text/xml")
		switch name := r.Form.Get("StackName"); name {
		case "phoneshield-webhooks", "old-stack":
			bus := "EventBusName"
			if name == "old-stack" {
				bus = "BusName"
			}
			fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult><Stacks><member>
    <StackName>%s</StackName><StackId>arn:aws:cloudformation:eu-west-3:123456789012:stack/%s/1</StackId>
    <CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>
    <Outputs>
      <member><OutputKey>%s</OutputKey><OutputValue>phoneshield-bus</OutputValue></member>
      <member><OutputKey>ApiUrl</OutputKey><OutputValue>%s</OutputValue></member>
    </Outputs>
  </member></Stacks></DescribeStacksResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</DescribeStacksResponse>`, name, name, bus, s.URL())
		case "no-api":
			fmt.Fprint(w, `<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>no-api</StackName>
    <CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs/></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id %s does not exist</Message></Error><RequestId>2</RequestId></ErrorResponse>`, name)
		}
	}))
	defer cfn.Close()
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", cfn.URL)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", s.URL())
	c := cli{t: t, url: "http://127.0.0.1:1"} // not used with --stack

	var ep apiclient.Endpoint
	c.json(&ep, "--aws", "--stack", "phoneshield-webhooks", "webhooks", "create", "--url", rcv.URL(), "--event-type", "call.completed")
	rcv.SetSecret(ep.Secret)
	c.run("--stack", "phoneshield-webhooks", "plan").has(t, "1 of 50 used")
	r := c.run("--aws", "--stack", "phoneshield-webhooks", "events", "send", "call.completed", "--event-id", "evt_via_sdk")
	r.want(t, 0)
	r.has(t, "evt_via_sdk")
	t.Setenv(EnvStack, "old-stack") // the default of --stack; BusName accepted too
	c.run("--aws", "events", "send", "call.completed", "--event-id", "evt_via_old_stack").want(t, 0)
	eventually(t, 20*time.Second, "both events at the receiver", func() bool {
		a, ok1 := rcv.Get("evt_via_sdk")
		b, ok2 := rcv.Get("evt_via_old_stack")
		return ok1 && ok2 && a.StandardOK && b.StandardOK
	})

	c.run("--stack", "nope", "plan").want(t, ExitNotFound, "webhookctl: describe stack nope: ValidationError: Stack with id nope does not exist")
	c.run("--stack", "no-api", "plan").want(t, ExitError, "stack no-api has no output ApiUrl")
	c.run("--stack", "no-api", "events", "send", "call.completed").want(t, ExitError, "has no output EventBusName or BusName")
	// --bus-name and --api-url skip the lookup.
	before := cfnCalls
	c.run("--aws", "--api-url", s.URL(), "--bus-name", "phoneshield-bus", "events", "send", "call.completed").want(t, 0)
	if cfnCalls != before {
		t.Fatalf("--api-url and --bus-name still described the stack")
	}
	t.Setenv(EnvStack, "")
	c.run("--aws", "plan").want(t, ExitUsage, "--aws: needs --stack NAME")
}
