package envelope

import (
	"math/rand/v2"
	"testing"
	"time"
	"os"

	"github.com/phoneshield/webhooks/shared/webhook"
)

func TestDbg(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 32 {
		ev := seedEvent()
		t0 := time.Now()
		ev.Data = randomData(r, 0)
		t1 := time.Now()
		body, info, err := RenderInfo(ev, "whk_1", webhook.Plans[i%3])
		t.Logf("case %d: data %d bytes gen %v render %v -> %d %v %v dropped %v", i, len(ev.Data), t1.Sub(t0), time.Since(t1), len(body), err, info.Truncated, info.Dropped)
		if i == 31 {
			os.WriteFile("/tmp/case31.json", ev.Data, 0o644)
			os.WriteFile("/tmp/case31.out", body, 0o644)
		}
	}
}
