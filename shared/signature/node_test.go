package signature

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// seedReceiver is the verification code of the seed's Express receiver
// (webhook-integration-guide.txt), verbatim but for reading the secret and
// the header from the environment and the raw request from stdin.
// express.json() parses the body; the seed then signs JSON.stringify of it.
const seedReceiver = `
const crypto = require('crypto');
const WEBHOOK_SECRET = process.env.WEBHOOK_SECRET;
function verifySignature(payload, signature) {
  const hmac = crypto.createHmac('sha256', WEBHOOK_SECRET);
  const calculatedSignature = hmac.update(payload).digest('hex');
  return crypto.timingSafeEqual(
    Buffer.from(calculatedSignature, 'hex'),
    Buffer.from(signature, 'hex')
  );
}
const raw = require('fs').readFileSync(0, 'utf8');
const body = JSON.parse(raw);
const payload = JSON.stringify(body);
const digest = crypto.createHmac('sha256', WEBHOOK_SECRET).update(payload).digest('hex');
process.stdout.write([payload === raw, digest, verifySignature(payload, process.env.SIGNATURE)].join(' '));
`

func TestPhoneShieldMatchesNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node is required in CI: %v", err)
		}
		t.Skipf("node not found: %v", err)
	}
	tests := []struct {
		name      string
		signWith  string // secret our side signs with
		wantValid string // what the seed's verifySignature returns
	}{
		{"same secret", testSecret, "true"},
		{"other secret", otherSecret, "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "-e", seedReceiver)
			cmd.Env = append(os.Environ(),
				"WEBHOOK_SECRET="+testSecret,
				"SIGNATURE="+PhoneShield(tt.signWith, testBody))
			cmd.Stdin = bytes.NewReader(testBody)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("node: %v", err)
			}
			got := strings.Fields(string(out))
			want := []string{"true", seedVector, tt.wantValid}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("node printed %q, want %q (JSON round trip, digest, verifySignature)", got, want)
			}
			if got, want := PhoneShield(testSecret, testBody), got[1]; got != want {
				t.Errorf("PhoneShield = %q, node computed %q", got, want)
			}
		})
	}
}
