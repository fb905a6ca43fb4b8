package webhooktest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// TestDeliveryLog runs the conformance suite of webhook.DeliveryLog.
// Records are created near the current time and expire 30 days later
// unless a subtest says otherwise; each subtest uses endpoints of its own.
func TestDeliveryLog(t *testing.T, newLog func(t *testing.T) webhook.DeliveryLog) {
	t.Run("FirstAppendCreates", func(t *testing.T) {
		l := newLog(t)
		now := Now()
		d := NewDelivery(UniqueID("whk_"), UniqueID("evt_"), now)
		a := NewAttempt(1, now, 503)
		mustAppend(t, l, d, a)
		want := *d
		want.Attempts = []webhook.Attempt{a}
		CheckEqual(t, "delivery", mustGetDelivery(t, l, d.ID), &want)
	})

	t.Run("AppendKeepsRequestUpdatesStatus", func(t *testing.T) {
		l := newLog(t)
		now := Now()
		first := NewDelivery(UniqueID("whk_"), UniqueID("evt_"), now)
		a1 := NewAttempt(1, now, 0)
		mustAppend(t, l, first, a1)

		later := *first
		later.Request = webhook.Request{URL: "https://elsewhere.example", Body: `{"changed":true}`}
		later.CreatedAt = now.Add(time.Minute)
		later.Status = webhook.DeliveryDelivered
		later.UpdatedAt = now.Add(10*time.Second + 5)
		later.ExpiresAt = now.Add(60*24*time.Hour + 3)
		later.Attempts = []webhook.Attempt{NewAttempt(9, now, 500)} // ignored
		a2 := NewAttempt(2, now.Add(10*time.Second), 200)
		mustAppend(t, l, &later, a2)

		want := *first
		want.Status, want.UpdatedAt, want.ExpiresAt = later.Status, later.UpdatedAt, later.ExpiresAt
		want.Attempts = []webhook.Attempt{a1, a2}
		CheckEqual(t, "delivery after a second attempt", mustGetDelivery(t, l, first.ID), &want)
	})

	t.Run("RepeatedAttemptReplaced", func(t *testing.T) {
		l := newLog(t)
		now := Now()
		d := NewDelivery(UniqueID("whk_"), UniqueID("evt_"), now)
		a1 := NewAttempt(1, now, 503)
		a2 := NewAttempt(2, now.Add(10*time.Second), 0)
		a2again := NewAttempt(2, now.Add(11*time.Second), 200) // redone after a crash
		for _, a := range []webhook.Attempt{a1, a2, a2again} {
			mustAppend(t, l, d, a)
		}
		got := mustGetDelivery(t, l, d.ID)
		CheckEqual(t, "attempts", got.Attempts, []webhook.Attempt{a1, a2again})
	})

	t.Run("AttemptsInOrder", func(t *testing.T) {
		l := newLog(t)
		now := Now()
		d := NewDelivery(UniqueID("whk_"), UniqueID("evt_"), now)
		var want []webhook.Attempt
		for n := 1; n <= 3; n++ {
			want = append(want, NewAttempt(n, now.Add(time.Duration(n)*time.Minute), 500+n))
		}
		for _, i := range []int{0, 2, 1} {
			mustAppend(t, l, d, want[i])
		}
		CheckEqual(t, "attempts appended as 1, 3, 2", mustGetDelivery(t, l, d.ID).Attempts, want)
	})

	t.Run("GenerationsKeptApart", func(t *testing.T) {
		// After a redrive from the DLQ the attempts start again at 1, in
		// generation 1: they sit beside generation 0's, which they don't
		// replace; an attempt of a generation redone replaces its own.
		l := newLog(t)
		now := Now()
		d := NewDelivery(UniqueID("whk_"), UniqueID("evt_"), now)
		g0a1, g0a2 := NewAttempt(1, now, 500), NewAttempt(2, now.Add(time.Minute), 500)
		g1a1 := NewAttempt(1, now.Add(time.Hour), 0)
		g1a1.Generation = 1
		g1a1again := NewAttempt(1, now.Add(time.Hour+time.Second), 200)
		g1a1again.Generation = 1
		g2a1 := NewAttempt(1, now.Add(2*time.Hour), 200)
		g2a1.Generation = 2
		for _, a := range []webhook.Attempt{g1a1, g0a2, g2a1, g0a1, g1a1again} {
			mustAppend(t, l, d, a)
		}
		CheckEqual(t, "attempts", mustGetDelivery(t, l, d.ID).Attempts, []webhook.Attempt{g0a1, g0a2, g1a1again, g2a1})
	})

	t.Run("GetMissing", func(t *testing.T) {
		l := newLog(t)
		if _, err := l.GetDelivery(t.Context(), UniqueID("dlv_")); !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("GetDelivery(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("ExpiredHidden", func(t *testing.T) {
		l := newLog(t)
		now := Now()
		ep := UniqueID("whk_")

		expired := NewDelivery(ep, UniqueID("evt_"), now.Add(-31*24*time.Hour))
		expired.ExpiresAt = now.Add(-time.Minute)
		mustAppend(t, l, expired, NewAttempt(1, expired.CreatedAt, 500))

		// Live when written, then an append moves ExpiresAt into the past.
		lapsed := NewDelivery(ep, UniqueID("evt_"), now)
		mustAppend(t, l, lapsed, NewAttempt(1, now, 500))
		mustGetDelivery(t, l, lapsed.ID)
		lapsed.ExpiresAt = now.Add(-time.Second)
		mustAppend(t, l, lapsed, NewAttempt(2, now, 500))

		live := NewDelivery(ep, UniqueID("evt_"), now.Add(-time.Hour))
		mustAppend(t, l, live, NewAttempt(1, live.CreatedAt, 200))

		for _, d := range []*webhook.Delivery{expired, lapsed} {
			if _, err := l.GetDelivery(t.Context(), d.ID); !errors.Is(err, webhook.ErrNotFound) {
				t.Errorf("GetDelivery(expired %s) = %v, want ErrNotFound", d.ID, err)
			}
		}
		if got := listIDs(t, l, ep, 2); !slices.Equal(got, []string{live.ID}) {
			t.Errorf("ListDeliveries = %q, want only the live %q", got, live.ID)
		}
	})

	t.Run("ListNewestFirstPaged", func(t *testing.T) {
		l := newLog(t)
		now := Now()
		ep, other := UniqueID("whk_"), UniqueID("whk_")
		// Written in an order that is neither oldest nor newest first.
		offsets := []time.Duration{-time.Minute, -5 * time.Minute, -4 * time.Minute, -3*time.Minute + 1, -2 * time.Minute}
		var ds []*webhook.Delivery
		for _, off := range offsets {
			d := NewDelivery(ep, UniqueID("evt_"), now.Add(off))
			mustAppend(t, l, d, NewAttempt(1, d.CreatedAt, 500))
			ds = append(ds, d)
		}
		slices.SortFunc(ds, func(a, b *webhook.Delivery) int { return b.CreatedAt.Compare(a.CreatedAt) })
		var want []string // newest first
		for _, d := range ds {
			want = append(want, d.ID)
		}
		for range 2 {
			d := NewDelivery(other, UniqueID("evt_"), now)
			mustAppend(t, l, d, NewAttempt(1, now, 200))
		}

		var (
			got    []string
			cursor string
			pages  int
		)
		for {
			ds, next, err := l.ListDeliveries(t.Context(), ep, webhook.Page{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatalf("ListDeliveries(page %d): %v", pages+1, err)
			}
			pages++
			if len(ds) > 2 {
				t.Errorf("page %d holds %d records, limit 2", pages, len(ds))
			}
			if len(ds) == 0 && next != "" {
				t.Fatalf("page %d is empty but has a next cursor", pages)
			}
			for _, d := range ds {
				got = append(got, d.ID)
				if d.EndpointID != ep {
					t.Errorf("listed %s of endpoint %s", d.ID, d.EndpointID)
				}
				CheckEqual(t, "listed delivery "+d.ID, d, mustGetDelivery(t, l, d.ID))
			}
			if next == "" || pages > 10 {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("listed newest first in pages of 2:\n got %q\nwant %q", got, want)
		}
		if pages < 3 || pages > 4 { // 2+2+1, and perhaps a last empty page
			t.Errorf("5 records in pages of 2 took %d pages", pages)
		}

		all, next, err := l.ListDeliveries(t.Context(), ep, webhook.Page{})
		if err != nil {
			t.Fatalf("ListDeliveries(default page): %v", err)
		}
		if len(all) != 5 || next != "" {
			t.Errorf("default page: %d records, next %q; want all 5 and no next", len(all), next)
		}
	})

	t.Run("ListUnknownEndpointEmpty", func(t *testing.T) {
		l := newLog(t)
		ds, next, err := l.ListDeliveries(t.Context(), UniqueID("whk_"), webhook.Page{Limit: 10})
		if err != nil || len(ds) != 0 || next != "" {
			t.Errorf("ListDeliveries(unknown endpoint) = %d records, next %q, %v; want none", len(ds), next, err)
		}
	})

	t.Run("ListBadCursor", func(t *testing.T) {
		l := newLog(t)
		if _, _, err := l.ListDeliveries(t.Context(), UniqueID("whk_"), webhook.Page{Cursor: "not a cursor!"}); err == nil {
			t.Errorf("ListDeliveries(bad cursor) succeeded, want an error")
		}
	})
}

func mustAppend(t *testing.T, l webhook.DeliveryLog, d *webhook.Delivery, a webhook.Attempt) {
	t.Helper()
	if err := l.AppendAttempt(t.Context(), d, a); err != nil {
		t.Fatalf("AppendAttempt(%s, attempt %d): %v", d.ID, a.N, err)
	}
}

func mustGetDelivery(t *testing.T, l webhook.DeliveryLog, id string) *webhook.Delivery {
	t.Helper()
	d, err := l.GetDelivery(t.Context(), id)
	if err != nil {
		t.Fatalf("GetDelivery(%s): %v", id, err)
	}
	return d
}

// listIDs lists every page of an endpoint's deliveries.
func listIDs(t *testing.T, l webhook.DeliveryLog, endpointID string, limit int) []string {
	t.Helper()
	var ids []string
	p := webhook.Page{Limit: limit}
	for range 1000 {
		ds, next, err := l.ListDeliveries(t.Context(), endpointID, p)
		if err != nil {
			t.Fatalf("ListDeliveries(%s): %v", endpointID, err)
		}
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		if next == "" {
			return ids
		}
		p.Cursor = next
	}
	t.Fatalf("ListDeliveries(%s): more than 1000 pages", endpointID)
	return nil
}
