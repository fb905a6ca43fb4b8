package bolt

import (
	"errors"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/delivery"
	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

var _ delivery.Settler = (*DB)(nil)

func TestSettle(t *testing.T) {
	ctx := t.Context()
	db := open(t, Options{})
	acquire := func(t *testing.T, key string, n int) webhook.Lease {
		t.Helper()
		l, err := db.Acquire(ctx, key, n, time.Minute)
		must(t, err)
		return l
	}
	newDelivery := func() *webhook.Delivery {
		return webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), webhooktest.UniqueID("evt_"), webhooktest.Now())
	}
	groups := func() int64 { return db.Stats().LogGroups }

	t.Run("Done", func(t *testing.T) {
		d := newDelivery()
		l := acquire(t, d.ID, 1)
		d.Status = webhook.DeliveryDelivered
		a := webhooktest.NewAttempt(1, d.CreatedAt, 200)
		g0 := groups()
		must(t, db.Settle(ctx, l, true, d, a))
		if got := groups() - g0; got != 1 {
			t.Errorf("Settle wrote %d log groups, want 1", got)
		}
		want := *d
		want.Attempts = []webhook.Attempt{a}
		got, err := db.GetDelivery(ctx, d.ID)
		must(t, err)
		webhooktest.CheckEqual(t, "settled delivery", got, &want)
		if _, err := db.Acquire(ctx, d.ID, 2, time.Minute); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("Acquire after a done Settle = %v, want ErrDone", err)
		}
	})

	t.Run("ReleasedThenDoneRequestKeptOnce", func(t *testing.T) {
		d := newDelivery()
		first := d.Request
		a1 := webhooktest.NewAttempt(1, d.CreatedAt, 503)
		must(t, db.Settle(ctx, acquire(t, d.ID, 1), false, d, a1))
		if _, err := db.Acquire(ctx, d.ID, 1, time.Minute); !errors.Is(err, webhook.ErrStale) {
			t.Errorf("Acquire(1) after releasing 1 = %v, want ErrStale", err)
		}
		later := *d
		later.Request = webhook.Request{URL: "https://elsewhere.example", Body: "{}"}
		later.Status, later.UpdatedAt = webhook.DeliveryDelivered, d.UpdatedAt.Add(time.Minute)
		a2 := webhooktest.NewAttempt(2, later.UpdatedAt, 204)
		must(t, db.Settle(ctx, acquire(t, d.ID, 2), true, &later, a2))
		got, err := db.GetDelivery(ctx, d.ID)
		must(t, err)
		webhooktest.CheckEqual(t, "request", got.Request, first)
		webhooktest.CheckEqual(t, "attempts", got.Attempts, []webhook.Attempt{a1, a2})
		if got.Status != webhook.DeliveryDelivered {
			t.Errorf("status %s, want delivered", got.Status)
		}
	})

	t.Run("NotTheLeaseWritesNothing", func(t *testing.T) {
		d := newDelivery()
		l := acquire(t, d.ID, 1)
		stale := l
		stale.Token = "not-the-token"
		err := db.Settle(ctx, stale, true, d, webhooktest.NewAttempt(1, d.CreatedAt, 200))
		if !errors.Is(err, webhook.ErrConflict) {
			t.Fatalf("Settle with a stale lease = %v, want ErrConflict", err)
		}
		if _, err := db.GetDelivery(ctx, d.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("GetDelivery after a refused Settle = %v, want ErrNotFound", err)
		}
		must(t, db.Finish(ctx, l)) // the real lease still ends
	})

	t.Run("BadAttempt", func(t *testing.T) {
		d := newDelivery()
		d.EndpointID = ""
		err := db.Settle(ctx, acquire(t, d.ID, 1), true, d, webhooktest.NewAttempt(1, d.CreatedAt, 200))
		var werr *webhook.Error
		if !errors.As(err, &werr) || werr.Field != "endpoint_id" {
			t.Errorf("Settle without an endpoint = %v, want an error naming endpoint_id", err)
		}
	})
}
