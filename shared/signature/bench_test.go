package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Benchmarks over a 2 KB body. Each reports, besides ns/op, "x-hmac": its
// time per op divided by that of BenchmarkBaselineHMAC (one plain
// hmac.New + Write + Sum over the same body) measured in the same process.
// Signing costs at least 1 + len(secrets) HMACs of the body (one for
// X-PhoneShield-Signature, one per webhook-signature entry).

var benchBody = bytes.Repeat([]byte(`{"k":"0123456789abcdef"},`), 2048/25+1)[:2048]

func baselineHMAC(b *testing.B) {
	key := []byte(testSecret)
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		h := hmac.New(sha256.New, key)
		h.Write(benchBody)
		benchSink = h.Sum(nil)
	}
}

var (
	benchSink    []byte
	baselineOnce sync.Once
	baselineNs   float64
)

func BenchmarkBaselineHMAC(b *testing.B) { baselineHMAC(b) }

// reportRatio measures the baseline once per process (outside the timed
// region) and reports b's time per op as a multiple of it.
func reportRatio(b *testing.B) {
	b.StopTimer()
	baselineOnce.Do(func() {
		r := testing.Benchmark(baselineHMAC)
		baselineNs = float64(r.T.Nanoseconds()) / float64(r.N)
	})
	if b.N > 0 && baselineNs > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baselineNs, "x-hmac")
	}
}

func BenchmarkSign(b *testing.B) {
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{"1secret", []string{testSecret}},
		{"2secrets", []string{testSecret, oldSecret}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := NewSigner(bc.secrets...)
			if err != nil {
				b.Fatal(err)
			}
			h := make(http.Header, 8)
			ts := time.Unix(1746026627, 0)
			b.SetBytes(int64(len(benchBody)))
			b.ReportAllocs()
			for b.Loop() {
				s.Sign(testID, ts, benchBody, h)
			}
			reportRatio(b)
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	ts := time.Unix(1746026627, 0)
	h := signed(b, testID, ts, benchBody, testSecret, oldSecret)
	clock := func() time.Time { return ts }
	for _, bc := range []struct {
		name string
		v    *Verifier
	}{
		{"standard", &Verifier{Secrets: []string{testSecret}, Now: clock}},
		{"standard_old_secret", &Verifier{Secrets: []string{testSecret, oldSecret}, Now: clock}}, // matches on the second key
		{"phoneshield", &Verifier{Secrets: []string{testSecret}, Scheme: SchemePhoneShield}},
		{"both", &Verifier{Secrets: []string{testSecret}, Scheme: SchemeBoth, Now: clock}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.name == "standard_old_secret" {
				h := h.Clone()
				h.Set(HeaderWebhookSignature, h.Get(HeaderWebhookSignature)[len("v1,")+44+1:]) // old only
				run(b, bc.v, h)
				return
			}
			run(b, bc.v, h)
		})
	}
}

func run(b *testing.B, v *Verifier, h http.Header) {
	if err := v.Verify(h, benchBody); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(h, benchBody); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b)
}
