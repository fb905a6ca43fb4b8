package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/phoneshield/webhooks/shared/jsjson"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// randomData builds a random data object of roughly up to budget bytes:
// nested objects, arrays of numbers and of objects, links, transcripts,
// index keys, a top-level "truncated" flag.
func randomData(r *rand.Rand, depth, budget int) json.RawMessage {
	keys := []string{"transcript", "summary", "notes", "text", "segments", "metadata", "samples",
		"transcription_url", "recording_url", "1", "20", "call_id", "truncated", "é😀"}
	var members []any
	count := 1 + r.IntN(8)
	for range count {
		k := keys[r.IntN(len(keys))]
		share := r.IntN(2*budget/count + 1)
		var v any
		switch r.IntN(6) {
		case 0, 1:
			v = strings.Repeat("é😀ab ", r.IntN(1+share/10))
		case 2:
			if depth < 3 {
				v = randomData(r, depth+1, share)
			} else {
				v = r.IntN(1000)
			}
		case 3:
			var b strings.Builder
			b.WriteByte('[')
			for i := range r.IntN(1 + share/6) {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%d.%d", i, r.IntN(1000))
			}
			b.WriteByte(']')
			v = json.RawMessage(b.String())
		case 4:
			if depth < 3 {
				var b strings.Builder
				b.WriteByte('[')
				n := 1 + r.IntN(10)
				for i := range n {
					if i > 0 {
						b.WriteByte(',')
					}
					b.Write(randomData(r, depth+1, share/n))
				}
				b.WriteByte(']')
				v = json.RawMessage(b.String())
			} else {
				v = nil
			}
		default:
			v = r.Float64() < 0.5
		}
		if k == "truncated" {
			if depth > 0 {
				k = "t"
			} else {
				v = r.IntN(2) == 0 // a producer's own flag; its value is overwritten
			}
		}
		members = append(members, k, v)
	}
	return object(members...)
}

func TestTruncateRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	cases := 100
	if testing.Short() {
		cases = 20
	}
	truncated := 0
	for i := range cases {
		ev := seedEvent()
		ev.Data = randomData(r, 0, 3<<20)
		plan := webhook.Plans[i%3]
		body, info, err := RenderInfo(ev, "whk_1", plan)
		if errors.Is(err, ErrTooLarge) {
			continue // links alone too big, or a link inside a huge array
		}
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if len(body) > MaxBody || info.Size != len(body) {
			t.Fatalf("case %d: %d bytes", i, len(body))
		}
		canon, err := jsjson.Canonical(body)
		if err != nil || !bytes.Equal(canon, body) {
			t.Fatalf("case %d: body is not canonical (%v)", i, err)
		}
		if !info.Truncated {
			continue
		}
		truncated++
		var env struct{ Data map[string]any }
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Data["truncated"] != true {
			t.Fatalf("case %d: data.truncated = %v", i, env.Data["truncated"])
		}
		for _, l := range Links {
			if plan.CorePayload {
				break
			}
			if got, want := len(findAll(env.Data, l)), len(findAll(mustDecode(t, ev.Data), l)); got != want {
				// Duplicate keys in the input collapse; count distinct
				// canonical occurrences instead.
				in, _ := jsjson.Canonical(ev.Data)
				if want = len(findAll(mustDecode(t, in), l)); got != want {
					t.Fatalf("case %d: %d %s members kept of %d", i, got, l, want)
				}
			}
		}
	}
	t.Logf("%d of %d random events truncated", truncated, cases)
	if truncated < cases/10 {
		t.Errorf("only %d random events needed truncation; make them bigger", truncated)
	}
}
