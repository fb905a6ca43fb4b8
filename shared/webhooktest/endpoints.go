package webhooktest

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// TestEndpointStore runs the conformance suite of webhook.EndpointStore.
// newStore is called once per subtest; it may return the same store each
// time (every subtest uses ids of its own).
func TestEndpointStore(t *testing.T, newStore func(t *testing.T) webhook.EndpointStore) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		s := newStore(t)
		zero := 0
		tests := []struct {
			name string
			e    *webhook.Endpoint
		}{
			{"every field", NewEndpoint(UniqueID("whk_"))},
			{"minimal", &webhook.Endpoint{
				ID: UniqueID("whk_"), URL: "https://example.com/hook", EventTypes: []string{"*"},
				Status: webhook.StatusInactive, Secret: NewSecret(), Version: 1, CreatedAt: Base, UpdatedAt: Base,
			}},
			{"no retries is not the default", func() *webhook.Endpoint {
				e := NewEndpoint(UniqueID("whk_"))
				e.Retry = webhook.RetrySettings{MaxRetries: &zero}
				return e
			}()},
			{"filter bytes kept as given", func() *webhook.Endpoint {
				e := NewEndpoint(UniqueID("whk_"))
				e.Filter = json.RawMessage("{ \"not\" :\n\t{\"phrase\": \"\\u00e9t\u00e9 <b>\"} }")
				e.PreviousSecret, e.PreviousSecretExpires = "", time.Time{}
				return e
			}()},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				want := tc.e.Clone()
				if err := s.CreateEndpoint(t.Context(), tc.e); err != nil {
					t.Fatalf("CreateEndpoint: %v", err)
				}
				got, err := s.GetEndpoint(t.Context(), want.ID)
				if err != nil {
					t.Fatalf("GetEndpoint: %v", err)
				}
				CheckEqual(t, "endpoint", got, want)
				if (got.Retry.MaxRetries == nil) != (want.Retry.MaxRetries == nil) {
					t.Errorf("Retry.MaxRetries nil = %v, want %v", got.Retry.MaxRetries == nil, want.Retry.MaxRetries == nil)
				}
			})
		}
	})

	t.Run("CreateKeepsVersion", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		e.Version = 7
		mustCreate(t, s, e)
		if got := mustGet(t, s, e.ID); got.Version != 7 {
			t.Errorf("Version = %d, want 7 as given", got.Version)
		}
	})

	t.Run("CreateDuplicateConflicts", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		mustCreate(t, s, e)
		dup := NewEndpoint(e.ID)
		dup.URL = "https://other.example/hook"
		if err := s.CreateEndpoint(t.Context(), dup); !errors.Is(err, webhook.ErrConflict) {
			t.Fatalf("second CreateEndpoint(%s) = %v, want ErrConflict", e.ID, err)
		}
		CheckEqual(t, "endpoint after the duplicate", mustGet(t, s, e.ID), e)
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetEndpoint(t.Context(), UniqueID("whk_")); !errors.Is(err, webhook.ErrNotFound) {
			t.Fatalf("GetEndpoint(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("ReturnsCopies", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		want := e.Clone()
		if err := s.CreateEndpoint(t.Context(), e); err != nil {
			t.Fatalf("CreateEndpoint: %v", err)
		}
		e.URL, e.Headers["X-Acme-Tenant"], e.EventTypes[0] = "https://changed.example", "changed", "changed"
		got := mustGet(t, s, want.ID)
		got.Headers["X-Acme-Tenant"], got.EventTypes[0], got.Filter[0] = "changed", "changed", 'X'
		CheckEqual(t, "endpoint after callers changed their copies", mustGet(t, s, want.ID), want)
	})

	t.Run("ListOrderedByCreatedAtThenID", func(t *testing.T) {
		s := newStore(t)
		p := UniqueID("whk_")
		// Inserted out of order; two share a CreatedAt.
		specs := []struct {
			id      string
			created time.Time
		}{
			{p + "-c", Base.Add(2 * time.Hour)},
			{p + "-a", Base.Add(time.Hour)},
			{p + "-e", Base.Add(time.Nanosecond)},
			{p + "-b", Base.Add(time.Hour)},
			{p + "-d", Base},
		}
		mine := map[string]bool{}
		for _, sp := range specs {
			e := NewEndpoint(sp.id)
			e.CreatedAt, e.UpdatedAt = sp.created, sp.created
			mustCreate(t, s, e)
			mine[sp.id] = true
		}
		all, err := s.ListEndpoints(t.Context())
		if err != nil {
			t.Fatalf("ListEndpoints: %v", err)
		}
		var got []string
		for _, e := range all {
			if mine[e.ID] {
				got = append(got, e.ID)
			}
		}
		want := []string{p + "-d", p + "-e", p + "-a", p + "-b", p + "-c"}
		if !slices.Equal(got, want) {
			t.Errorf("ListEndpoints order = %q, want %q", got, want)
		}
		for _, e := range all {
			if e.ID == p+"-a" {
				CheckEqual(t, "listed endpoint", e, mustGet(t, s, e.ID))
			}
		}
	})

	t.Run("UpdateVersionCheck", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		mustCreate(t, s, e)
		tests := []struct {
			name    string
			id      string
			version int64
			want    error
		}{
			{"next version", e.ID, 2, nil},
			{"same version again (stale)", e.ID, 2, webhook.ErrConflict},
			{"older version", e.ID, 1, webhook.ErrConflict},
			{"skipping a version", e.ID, 4, webhook.ErrConflict},
			{"following version", e.ID, 3, nil},
			{"missing endpoint", UniqueID("whk_"), 2, webhook.ErrNotFound},
		}
		for _, tc := range tests {
			u := NewEndpoint(tc.id)
			u.Version = tc.version
			u.Description = tc.name
			err := s.UpdateEndpoint(t.Context(), u)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%s: UpdateEndpoint(version %d) = %v, want %v", tc.name, tc.version, err, tc.want)
			}
		}
		got := mustGet(t, s, e.ID)
		if got.Version != 3 || got.Description != "following version" {
			t.Errorf("after updates: version %d, description %q; want 3, %q", got.Version, got.Description, "following version")
		}
	})

	t.Run("UpdateReplacesEveryField", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		mustCreate(t, s, e)
		five := 5
		u := &webhook.Endpoint{
			ID: e.ID, URL: "https://new.acme.example/v2/hook", Description: "rotated",
			EventTypes: []string{"*"}, Status: webhook.StatusInactive,
			Secret: NewSecret(), PreviousSecret: e.Secret, PreviousSecretExpires: Base.Add(48*time.Hour + 3),
			Headers:            map[string]string{"X-New": "1"},
			Retry:              webhook.RetrySettings{MaxRetries: &five},
			Filter:             json.RawMessage(`{"field":"urgency","op":"eq","value":"high"}`),
			RateLimitPerMinute: 0,
			Version:            2, CreatedAt: e.CreatedAt, UpdatedAt: Base.Add(time.Hour + 9),
		}
		want := u.Clone()
		if err := s.UpdateEndpoint(t.Context(), u); err != nil {
			t.Fatalf("UpdateEndpoint: %v", err)
		}
		CheckEqual(t, "updated endpoint", mustGet(t, s, e.ID), want)
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		mustCreate(t, s, e)
		if err := s.DeleteEndpoint(t.Context(), e.ID); err != nil {
			t.Fatalf("DeleteEndpoint: %v", err)
		}
		if _, err := s.GetEndpoint(t.Context(), e.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("GetEndpoint after delete = %v, want ErrNotFound", err)
		}
		if err := s.DeleteEndpoint(t.Context(), e.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("second DeleteEndpoint = %v, want ErrNotFound", err)
		}
		all, err := s.ListEndpoints(t.Context())
		if err != nil {
			t.Fatalf("ListEndpoints: %v", err)
		}
		for _, x := range all {
			if x.ID == e.ID {
				t.Errorf("deleted endpoint %s still listed", e.ID)
			}
		}
		u := NewEndpoint(e.ID)
		u.Version = 2
		if err := s.UpdateEndpoint(t.Context(), u); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("UpdateEndpoint after delete = %v, want ErrNotFound", err)
		}
		if err := s.CreateEndpoint(t.Context(), NewEndpoint(e.ID)); err != nil {
			t.Errorf("CreateEndpoint reusing a deleted id = %v, want nil", err)
		}
	})

	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) {
		s := newStore(t)
		e := NewEndpoint(UniqueID("whk_"))
		e.RateLimitPerMinute = 0
		mustCreate(t, s, e)
		const workers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range each {
					if err := increment(t, s, e.ID); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		got := mustGet(t, s, e.ID)
		if got.RateLimitPerMinute != workers*each || got.Version != 1+workers*each {
			t.Errorf("after %d concurrent increments: counter %d, version %d; want %d, %d",
				workers*each, got.RateLimitPerMinute, got.Version, workers*each, 1+workers*each)
		}
	})
}

// increment is a read-modify-write loop that retries on ErrConflict.
func increment(t *testing.T, s webhook.EndpointStore, id string) error {
	for range 1000 {
		e, err := s.GetEndpoint(t.Context(), id)
		if err != nil {
			return err
		}
		e.RateLimitPerMinute++
		e.Version++
		e.UpdatedAt = Now()
		err = s.UpdateEndpoint(t.Context(), e)
		if !errors.Is(err, webhook.ErrConflict) {
			return err
		}
	}
	return errors.New("increment: still conflicting after 1000 tries")
}

func mustCreate(t *testing.T, s webhook.EndpointStore, e *webhook.Endpoint) {
	t.Helper()
	if err := s.CreateEndpoint(t.Context(), e.Clone()); err != nil {
		t.Fatalf("CreateEndpoint(%s): %v", e.ID, err)
	}
}

func mustGet(t *testing.T, s webhook.EndpointStore, id string) *webhook.Endpoint {
	t.Helper()
	e, err := s.GetEndpoint(t.Context(), id)
	if err != nil {
		t.Fatalf("GetEndpoint(%s): %v", id, err)
	}
	return e
}
