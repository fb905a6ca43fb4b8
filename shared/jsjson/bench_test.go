package jsjson

import (
	"encoding/json"
	"testing"

	"github.com/phoneshield/webhooks/shared/jsjson/jsjsontest"
)

func benchSizes() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"2KB", jsjsontest.CallCompleted(2 << 10)},
		{"50KB", jsjsontest.CallCompleted(50 << 10)},
	}
}

func TestBenchPayloadsValid(t *testing.T) {
	for _, s := range benchSizes() {
		if !json.Valid(s.data) {
			t.Fatalf("%s payload is not JSON", s.name)
		}
		t.Logf("%s payload: %d bytes", s.name, len(s.data))
	}
}

// BenchmarkCanonical compares Canonical with the encoding/json round trip
// (Unmarshal into any, Marshal) on the same input.
func BenchmarkCanonical(b *testing.B) {
	for _, s := range benchSizes() {
		b.Run(s.name+"/jsjson", func(b *testing.B) {
			b.SetBytes(int64(len(s.data)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				buf, err = AppendCanonical(buf[:0], s.data)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/jsjson-alloc", func(b *testing.B) {
			b.SetBytes(int64(len(s.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonical(s.data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(s.data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(s.data, &v); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
