package webhooktest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// TestDeadLetters runs the conformance suite of webhook.DeadLetters. The
// dead-letter queue is shared, so listings are checked on the subsequence
// of records each subtest wrote.
func TestDeadLetters(t *testing.T, newDLQ func(t *testing.T) webhook.DeadLetters) {
	t.Run("PutGetRoundTrip", func(t *testing.T) {
		s := newDLQ(t)
		for _, dl := range []*webhook.DeadLetter{
			NewDeadLetter(UniqueID("dlv_"), UniqueID("whk_"), Base),
			NewPoisonDeadLetter(UniqueID("poison_"), Base.Add(time.Nanosecond)),
		} {
			mustPut(t, s, dl)
			got, err := s.GetDeadLetter(t.Context(), dl.ID)
			if err != nil {
				t.Fatalf("GetDeadLetter(%s): %v", dl.ID, err)
			}
			CheckEqual(t, "dead letter "+dl.ID, got, dl)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newDLQ(t)
		if _, err := s.GetDeadLetter(t.Context(), UniqueID("dlv_")); !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("GetDeadLetter(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("PutAgainReplaces", func(t *testing.T) {
		s := newDLQ(t)
		p := UniqueID("dlv_")
		first := NewDeadLetter(p+"-1", UniqueID("whk_"), Base)
		mustPut(t, s, first)
		mustPut(t, s, NewDeadLetter(p+"-2", first.EndpointID, Base.Add(time.Hour)))
		again := NewDeadLetter(first.ID, first.EndpointID, Base.Add(2*time.Hour)) // redriven, failed again
		again.Reason = "endpoint is inactive; redrive after enabling it"
		again.Attempts = nil
		mustPut(t, s, again)
		got, err := s.GetDeadLetter(t.Context(), first.ID)
		if err != nil {
			t.Fatalf("GetDeadLetter: %v", err)
		}
		CheckEqual(t, "replaced dead letter", got, again)
		if ids := listDeadLetterIDs(t, s, p, 2); !slices.Equal(ids, []string{p + "-2", p + "-1"}) {
			t.Errorf("listed %q, want the replaced one once, ordered by its new At", ids)
		}
	})

	t.Run("ListOldestFirstPaged", func(t *testing.T) {
		s := newDLQ(t)
		p := UniqueID("dlv_")
		// Put out of order; two share an At (ordered by id).
		specs := []struct {
			id string
			at time.Duration
		}{
			{p + "-c", 3 * time.Minute}, {p + "-a", time.Minute}, {p + "-e", 4 * time.Minute},
			{p + "-b", time.Minute}, {p + "-d", 3*time.Minute + 1},
		}
		for _, sp := range specs {
			mustPut(t, s, NewDeadLetter(sp.id, UniqueID("whk_"), Base.Add(sp.at)))
		}
		want := []string{p + "-a", p + "-b", p + "-c", p + "-d", p + "-e"}
		for _, limit := range []int{2, 0} {
			if got := listDeadLetterIDs(t, s, p, limit); !slices.Equal(got, want) {
				t.Errorf("limit %d: listed %q, want %q", limit, got, want)
			}
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newDLQ(t)
		p := UniqueID("dlv_")
		dl := NewDeadLetter(p+"-1", UniqueID("whk_"), Base)
		mustPut(t, s, dl)
		mustPut(t, s, NewDeadLetter(p+"-2", dl.EndpointID, Base))
		if err := s.DeleteDeadLetter(t.Context(), dl.ID); err != nil {
			t.Fatalf("DeleteDeadLetter: %v", err)
		}
		if _, err := s.GetDeadLetter(t.Context(), dl.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("GetDeadLetter after delete = %v, want ErrNotFound", err)
		}
		if err := s.DeleteDeadLetter(t.Context(), dl.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("second DeleteDeadLetter = %v, want ErrNotFound", err)
		}
		if ids := listDeadLetterIDs(t, s, p, 2); !slices.Equal(ids, []string{p + "-2"}) {
			t.Errorf("listed %q after delete, want only %s-2", ids, p)
		}
	})

	t.Run("ListBadCursor", func(t *testing.T) {
		s := newDLQ(t)
		if _, _, err := s.ListDeadLetters(t.Context(), webhook.Page{Cursor: "not a cursor!"}); err == nil {
			t.Errorf("ListDeadLetters(bad cursor) succeeded, want an error")
		}
	})
}

func mustPut(t *testing.T, s webhook.DeadLetters, dl *webhook.DeadLetter) {
	t.Helper()
	if err := s.PutDeadLetter(t.Context(), dl); err != nil {
		t.Fatalf("PutDeadLetter(%s): %v", dl.ID, err)
	}
}

// listDeadLetterIDs lists every page and returns the ids with prefix, in
// order, checking page sizes and that no record is listed twice.
func listDeadLetterIDs(t *testing.T, s webhook.DeadLetters, prefix string, limit int) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	p := webhook.Page{Limit: limit}
	for range 10000 {
		dls, next, err := s.ListDeadLetters(t.Context(), p)
		if err != nil {
			t.Fatalf("ListDeadLetters: %v", err)
		}
		if limit > 0 && len(dls) > limit {
			t.Errorf("page of %d dead letters, limit %d", len(dls), limit)
		}
		for _, dl := range dls {
			if seen[dl.ID] {
				t.Errorf("dead letter %s listed twice", dl.ID)
			}
			seen[dl.ID] = true
			if len(dl.ID) > len(prefix) && dl.ID[:len(prefix)] == prefix {
				ids = append(ids, dl.ID)
			}
		}
		if next == "" {
			return ids
		}
		p.Cursor = next
	}
	t.Fatal("ListDeadLetters: more than 10000 pages")
	return nil
}
