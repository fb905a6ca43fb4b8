package bolt

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

// encodeDelivery must decode to what json.Marshal's output decodes to.
func TestEncodeDelivery(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	full := webhooktest.NewDelivery("whk_1", "evt_1", now)
	full.Attempts = []webhook.Attempt{
		webhooktest.NewAttempt(1, now, 500),
		{N: 2, At: now.Add(time.Second), Latency: 3 * time.Millisecond, Error: "timeout \"10 s\"\n<b>", Response: "\x00\u2028 ok \xff\xfe é 😀"},
		{N: 3, At: now.In(time.FixedZone("X", 5*3600+30*60)), StatusCode: 204},
		{N: 1, Generation: 2, At: now.Add(time.Hour), StatusCode: 200},
	}
	full.Request.Headers = map[string]string{"Z-Last": "z", "A-First": "a & <b>", "Content-Type": "application/json"}
	full.Request.Body = `{"data":{"text":"line\u2028sep \"q\" </script>"}}`
	bare := &webhook.Delivery{ID: "d", EndpointID: "e"}
	odd := webhooktest.NewDelivery("whk_2", "evt_2", now)
	odd.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // json.Marshal refuses it: so must we
	odd.Attempts = nil
	odd.Request.Headers = map[string]string{}
	for name, d := range map[string]*webhook.Delivery{"full": full, "bare": bare, "year 10000": odd} {
		t.Run(name, func(t *testing.T) {
			want, wantErr := json.Marshal(d)
			got, gotErr := encodeDelivery(nil, d)
			if (wantErr != nil) != (gotErr != nil) {
				t.Fatalf("error %v, json.Marshal's %v", gotErr, wantErr)
			}
			if wantErr != nil {
				return
			}
			var g, w webhook.Delivery
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("decodes to\n%+v\nwant\n%+v", g, w)
			}
			var gm, wm map[string]any // same fields present and absent (omitempty)
			json.Unmarshal(got, &gm)
			json.Unmarshal(want, &wm)
			if !reflect.DeepEqual(gm, wm) {
				t.Errorf("fields\n%v\nwant\n%v", gm, wm)
			}
		})
	}
}

func FuzzEncodeDelivery(f *testing.F) {
	f.Add("id", "body", "error", "resp", "X-H", "v", int64(0), 200)
	f.Add("\xff", "\u2028<>&", "\x00", "😀\xed\xa0\x80", "", "\n", int64(-1), 0)
	f.Fuzz(func(t *testing.T, id, body, errText, resp, hk, hv string, ns int64, code int) {
		at := time.Unix(0, ns).UTC()
		d := &webhook.Delivery{ID: id, EndpointID: "e", Request: webhook.Request{Body: body, Headers: map[string]string{hk: hv}},
			Attempts:  []webhook.Attempt{{N: 1, At: at, StatusCode: code, Error: errText, Response: resp, Latency: time.Duration(ns)}},
			CreatedAt: at, UpdatedAt: at}
		want, err := json.Marshal(d)
		if err != nil {
			t.Skip()
		}
		got, err := encodeDelivery(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		var g, w webhook.Delivery
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("decodes to %+v, want %+v", g, w)
		}
	})
}
