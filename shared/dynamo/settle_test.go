package dynamo

import (
	"context"
	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/phoneshield/webhooks/shared/webhook"
	"github.com/phoneshield/webhooks/shared/webhooktest"
)

func TestSettle(t *testing.T) {
	c := fresh(t, testTables)
	s := New(c, testTables, Options{})
	ctx := t.Context()
	newDelivery := func() *webhook.Delivery {
		return webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), webhooktest.UniqueID("evt_"), webhooktest.Now())
	}
	acquire := func(t *testing.T, key string, n int) webhook.Lease {
		t.Helper()
		l, err := s.Acquire(ctx, key, n, time.Minute)
		if err != nil {
			t.Fatalf("Acquire(%s, %d): %v", key, n, err)
		}
		return l
	}

	t.Run("Done", func(t *testing.T) {
		d := newDelivery()
		l := acquire(t, d.ID, 1)
		if _, err := s.GetDelivery(ctx, d.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("GetDelivery of a key without a log = %v, want ErrNotFound", err)
		}
		d.Status = webhook.DeliveryDelivered
		a := webhooktest.NewAttempt(1, d.CreatedAt, 200)
		if err := s.Settle(ctx, l, true, d, a); err != nil {
			t.Fatalf("Settle: %v", err)
		}
		want := *d
		want.Attempts = []webhook.Attempt{a}
		webhooktest.CheckEqual(t, "settled delivery", mustGet(t, s, d.ID), &want)
		if _, err := s.Acquire(ctx, d.ID, 2, time.Minute); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("Acquire after a done Settle = %v, want ErrDone", err)
		}
		it := rawItem(t, c, testTables.Deliveries, d.ID)
		if has(it, attrToken) || has(it, attrLeaseUntil) {
			t.Errorf("lease fields left after Settle: %v", it)
		}
		if ttl, _ := getN(it, TTLAttribute); ttl != epochSeconds(d.ExpiresAt) {
			t.Errorf("TTL %d, want the log's expiry %d (later than the key's)", ttl, epochSeconds(d.ExpiresAt))
		}
	})

	t.Run("ReleasedThenDoneRequestKeptOnce", func(t *testing.T) {
		d := newDelivery()
		first := d.Request
		a1 := webhooktest.NewAttempt(1, d.CreatedAt, 503)
		if err := s.Settle(ctx, acquire(t, d.ID, 1), false, d, a1); err != nil {
			t.Fatalf("Settle(attempt 1, released): %v", err)
		}
		if _, err := s.Acquire(ctx, d.ID, 1, time.Minute); !errors.Is(err, webhook.ErrStale) {
			t.Errorf("Acquire(1) after releasing 1 = %v, want ErrStale", err)
		}
		l2 := acquire(t, d.ID, 2)
		later := *d
		later.Request = webhook.Request{URL: "https://elsewhere.example", Body: "{}"}
		later.CreatedAt = d.CreatedAt.Add(time.Minute)
		later.Status, later.UpdatedAt = webhook.DeliveryDelivered, d.UpdatedAt.Add(time.Minute)
		a2 := webhooktest.NewAttempt(2, later.UpdatedAt, 204)
		if err := s.Settle(ctx, l2, true, &later, a2); err != nil {
			t.Fatalf("Settle(attempt 2, done): %v", err)
		}
		got := mustGet(t, s, d.ID)
		webhooktest.CheckEqual(t, "request", got.Request, first)
		webhooktest.CheckEqual(t, "attempts", got.Attempts, []webhook.Attempt{a1, a2})
		if !got.CreatedAt.Equal(d.CreatedAt) || got.Status != webhook.DeliveryDelivered || !got.UpdatedAt.Equal(later.UpdatedAt) {
			t.Errorf("created %s, status %s, updated %s; want the first's creation, the last's status and update",
				got.CreatedAt, got.Status, got.UpdatedAt)
		}
	})

	t.Run("WrongTokenConflictsWritesNothing", func(t *testing.T) {
		d := newDelivery()
		l := acquire(t, d.ID, 1)
		bad := l
		bad.Token = "0123456789abcdef0123456789abcdef"
		if err := s.Settle(ctx, bad, true, d, webhooktest.NewAttempt(1, d.CreatedAt, 200)); !errors.Is(err, webhook.ErrConflict) {
			t.Fatalf("Settle(wrong token) = %v, want ErrConflict", err)
		}
		if _, err := s.GetDelivery(ctx, d.ID); !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("GetDelivery after a refused Settle = %v, want ErrNotFound (nothing written)", err)
		}
		unknown := webhooktest.NewDelivery("whk_x", webhooktest.UniqueID("evt_"), d.CreatedAt)
		l.Key = unknown.ID
		if err := s.Settle(ctx, l, true, unknown, webhooktest.NewAttempt(1, d.CreatedAt, 200)); !errors.Is(err, webhook.ErrConflict) {
			t.Errorf("Settle(unknown key) = %v, want ErrConflict", err)
		}
		if err := s.Settle(ctx, l, true, d, webhook.Attempt{}); webhook.KindOf(err) != webhook.KindInvalid {
			t.Errorf("Settle(attempt 0) = %v, want KindInvalid", err)
		}
	})

	// A redrive's key (<delivery id>#<generation>) is an item of its own:
	// Settle writes the log and ends the lease apart.
	t.Run("RedriveKey", func(t *testing.T) {
		d := newDelivery()
		l := acquire(t, d.ID+"#1", 1)
		a := webhooktest.NewAttempt(1, d.CreatedAt, 200)
		if err := s.Settle(ctx, l, true, d, a); err != nil {
			t.Fatalf("Settle: %v", err)
		}
		if got := mustGet(t, s, d.ID); len(got.Attempts) != 1 {
			t.Errorf("attempts %v, want the one settled", got.Attempts)
		}
		if _, err := s.Acquire(ctx, l.Key, 2, time.Minute); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("Acquire(redrive key) after Settle = %v, want ErrDone", err)
		}
	})
}

func TestSettleSeparateTables(t *testing.T) {
	tables := testTables
	tables.Keys = "keys"
	s := New(fresh(t, tables), tables, Options{})
	ctx := t.Context()
	d := webhooktest.NewDelivery("whk_a", "evt_a", webhooktest.Now())
	l, err := s.Acquire(ctx, d.ID, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, l, false, d, webhooktest.NewAttempt(1, d.CreatedAt, 500)); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	mustGet(t, s, d.ID)
	if _, err := s.Acquire(ctx, d.ID, 1, time.Minute); !errors.Is(err, webhook.ErrStale) {
		t.Errorf("Acquire(1) after Settle released it = %v, want ErrStale", err)
	}
	bad := l
	bad.Token = "nope"
	if err := s.Settle(ctx, bad, true, d, webhooktest.NewAttempt(2, d.CreatedAt, 200)); !errors.Is(err, webhook.ErrConflict) {
		t.Errorf("Settle(wrong token) = %v, want ErrConflict", err)
	}
	// Refused, it wrote nothing to the log either.
	if got := mustGet(t, s, d.ID); len(got.Attempts) != 1 || got.Attempts[0].StatusCode != 500 {
		t.Errorf("log after a refused Settle: %+v, want attempt 1 (500) only", got.Attempts)
	}
}

// TestStaleSettleOfARedriveKey: a redrive's key ("<id>#<generation>") is
// an item apart from the log; a holder whose lease was taken over, and
// who settles after the new holder delivered, is refused and leaves the
// log as the new holder wrote it (it used to overwrite it with its own
// failed attempt).
func TestStaleSettleOfARedriveKey(t *testing.T) {
	s := New(fresh(t, testTables), testTables, Options{})
	ctx := t.Context()
	d := webhooktest.NewDelivery("whk_a", "evt_stale", webhooktest.Now())
	key := d.ID + "#1"
	stale, err := s.Acquire(ctx, key, 1, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the first holder stalls past its lease
	current, err := s.Acquire(ctx, key, 1, time.Minute)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	ok := *d
	ok.Status = webhook.DeliveryDelivered
	okAttempt := webhooktest.NewAttempt(1, d.CreatedAt, 200)
	okAttempt.Generation = 1
	if err := s.Settle(ctx, current, true, &ok, okAttempt); err != nil {
		t.Fatalf("Settle(current holder): %v", err)
	}
	failed := *d
	failed.Status = webhook.DeliveryPending
	failedAttempt := webhooktest.NewAttempt(1, d.CreatedAt, 503)
	failedAttempt.Generation = 1
	if err := s.Settle(ctx, stale, false, &failed, failedAttempt); !errors.Is(err, webhook.ErrConflict) {
		t.Fatalf("Settle(stale holder) = %v, want ErrConflict", err)
	}
	if got := mustGet(t, s, d.ID); got.Status != webhook.DeliveryDelivered || len(got.Attempts) != 1 || got.Attempts[0].StatusCode != 200 {
		t.Errorf("log after the stale Settle: %s with %+v, want delivered with the 200", got.Status, got.Attempts)
	}
}

// logDown fails every UpdateItem on one table, as if it were unavailable.
type logDown struct {
	API
	table string
}

func (c logDown) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if aws.ToString(in.TableName) == c.table {
		return nil, errors.New("table unavailable")
	}
	return c.API.UpdateItem(ctx, in, o...)
}

// TestSettleApartLogOnlyFailure: with keys apart from the log, a settle
// whose lease ends but whose log write fails says so with
// webhook.ErrLogNotWritten (the Deliverer then reports it and moves on);
// one whose lease write fails is a plain error.
func TestSettleApartLogOnlyFailure(t *testing.T) {
	tables := testTables
	tables.Keys = "keys"
	api := fresh(t, tables)
	s := New(logDown{API: api, table: tables.Deliveries}, tables, Options{})
	ctx := t.Context()
	d := webhooktest.NewDelivery("whk_a", "evt_down", webhooktest.Now())
	l, err := s.Acquire(ctx, d.ID, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, l, true, d, webhooktest.NewAttempt(1, d.CreatedAt, 200)); !errors.Is(err, webhook.ErrLogNotWritten) {
		t.Fatalf("Settle with the log down = %v, want ErrLogNotWritten", err)
	}
	if _, err := s.Acquire(ctx, d.ID, 1, time.Minute); !errors.Is(err, webhook.ErrDone) {
		t.Errorf("Acquire after that Settle = %v, want ErrDone: the lease ended", err)
	}

	s = New(logDown{API: api, table: tables.Keys}, tables, Options{})
	d = webhooktest.NewDelivery("whk_a", "evt_keys_down", webhooktest.Now())
	l, err = New(api, tables, Options{}).Acquire(ctx, d.ID, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, l, true, d, webhooktest.NewAttempt(1, d.CreatedAt, 200)); err == nil || errors.Is(err, webhook.ErrLogNotWritten) {
		t.Errorf("Settle with the keys down = %v, want a plain error", err)
	}
}

// The rare paths: state that expired but is still stored (moto never
// deletes it; DynamoDB deletes it late) and TTLs that must not shrink.
func TestExpiredButStored(t *testing.T) {
	c := fresh(t, testTables)
	clk := &clock{t: webhooktest.Now()}
	s := New(c, testTables, Options{Now: clk.Now, KeyTTL: time.Hour})
	ctx := t.Context()

	t.Run("KeyStartsAfresh", func(t *testing.T) {
		key := webhooktest.UniqueID("event:")
		l, err := s.Acquire(ctx, key, 3, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
		l, _ = s.Acquire(ctx, key, 4, time.Minute)
		if err := s.Finish(ctx, l); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Hour)
		l, err = s.Acquire(ctx, key, 1, time.Minute)
		if err != nil {
			t.Fatalf("Acquire(1) after the key expired = %v, want a fresh lease", err)
		}
		if err := s.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, key, 2, time.Minute); err != nil {
			t.Errorf("Acquire(2) on the restarted key = %v", err)
		}
		if ttl, _ := getN(rawItem(t, c, testTables.Keys, key), TTLAttribute); ttl < clk.Now().Add(time.Hour).Unix() {
			t.Errorf("TTL %d, want at least an hour from now (%d)", ttl, clk.Now().Add(time.Hour).Unix())
		}
	})

	t.Run("LogStartsAfresh", func(t *testing.T) {
		d := webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), "evt_1", clk.Now())
		d.ExpiresAt = clk.Now().Add(time.Minute)
		for n := 1; n <= 2; n++ {
			if err := s.AppendAttempt(ctx, d, webhooktest.NewAttempt(n, clk.Now(), 500)); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(2 * time.Minute)
		again := *d
		again.CreatedAt = clk.Now()
		again.Request.Body = "{}"
		again.ExpiresAt = clk.Now().Add(time.Hour)
		a := webhooktest.NewAttempt(1, clk.Now(), 200)
		if err := s.AppendAttempt(ctx, &again, a); err != nil {
			t.Fatalf("AppendAttempt to an expired record: %v", err)
		}
		want := again
		want.Attempts = []webhook.Attempt{a}
		webhooktest.CheckEqual(t, "record started afresh", mustGet(t, s, d.ID), &want)

		// The same through Settle, with the key in the item.
		clk.Add(2 * time.Hour)
		l, err := s.Acquire(ctx, d.ID, 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		third := again
		third.CreatedAt = clk.Now()
		third.ExpiresAt = clk.Now().Add(24 * time.Hour)
		a = webhooktest.NewAttempt(3, clk.Now(), 200)
		if err := s.Settle(ctx, l, true, &third, a); err != nil {
			t.Fatalf("Settle on an expired record: %v", err)
		}
		want = third
		want.Attempts = []webhook.Attempt{a}
		webhooktest.CheckEqual(t, "record settled afresh", mustGet(t, s, d.ID), &want)
	})

	t.Run("AcquireExtendsShortTTL", func(t *testing.T) {
		d := webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), "evt_1", clk.Now())
		d.ExpiresAt = clk.Now().Add(time.Second)
		if err := s.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, clk.Now(), 500)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, d.ID, 2, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		want := clk.Now().Add(time.Hour).Unix()
		if ttl, _ := getN(rawItem(t, c, testTables.Deliveries, d.ID), TTLAttribute); ttl < want {
			t.Errorf("TTL %d after Acquire, want at least the key's expiry %d", ttl, want)
		}
	})

	t.Run("AppendKeepsLongerKeyTTL", func(t *testing.T) {
		d := webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), "evt_1", clk.Now())
		if _, err := s.Acquire(ctx, d.ID, 1, time.Minute); err != nil {
			t.Fatal(err)
		}
		d.ExpiresAt = clk.Now().Add(time.Minute)
		if err := s.AppendAttempt(ctx, d, webhooktest.NewAttempt(1, clk.Now(), 500)); err != nil {
			t.Fatal(err)
		}
		want := clk.Now().Add(time.Hour).Unix()
		if ttl, _ := getN(rawItem(t, c, testTables.Deliveries, d.ID), TTLAttribute); ttl < want {
			t.Errorf("TTL %d after AppendAttempt, want at least the key's expiry %d", ttl, want)
		}
		webhooktest.CheckEqual(t, "expiry", mustGet(t, s, d.ID).ExpiresAt, d.ExpiresAt)
	})

	t.Run("FinishKeepsLongerLogTTL", func(t *testing.T) {
		d := webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), "evt_1", clk.Now())
		d.ExpiresAt = clk.Now().Add(30 * 24 * time.Hour)
		l, _ := s.Acquire(ctx, d.ID, 1, time.Minute)
		if err := s.Settle(ctx, l, false, d, webhooktest.NewAttempt(1, clk.Now(), 500)); err != nil {
			t.Fatal(err)
		}
		l, _ = s.Acquire(ctx, d.ID, 2, time.Minute)
		if err := s.Finish(ctx, l); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if ttl, _ := getN(rawItem(t, c, testTables.Deliveries, d.ID), TTLAttribute); ttl != epochSeconds(d.ExpiresAt) {
			t.Errorf("TTL %d after Finish, want the log's %d", ttl, epochSeconds(d.ExpiresAt))
		}
		if _, err := s.Acquire(ctx, d.ID, 3, time.Minute); !errors.Is(err, webhook.ErrDone) {
			t.Errorf("Acquire after Finish = %v, want ErrDone", err)
		}
	})
}

func TestLargeRequestFitsAnItem(t *testing.T) {
	// Text that hardly compresses: the body must be cut.
	alphabet := []rune("abcdefghijklmnopqrstuvwxyz0123456789é€")
	var b strings.Builder
	x := uint32(1)
	for b.Len() < 1<<20 {
		x = x*1664525 + 1013904223
		b.WriteRune(alphabet[(x>>24)%uint32(len(alphabet))])
	}
	req := webhook.Request{URL: "https://x.example", Body: b.String()}
	av, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRequest(av)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(av.(*types.AttributeValueMemberB).Value); n > storedRequestMax {
		t.Errorf("stored %d bytes, want ≤ %d", n, storedRequestMax)
	}
	if !utf8.ValidString(got.Body) {
		t.Errorf("cut body is not valid UTF-8")
	}
	if !strings.HasPrefix(req.Body, strings.SplitN(got.Body, "…[cut", 2)[0]) || !strings.Contains(got.Body, "…[cut by the delivery log") {
		t.Errorf("cut body does not keep the start and a marker")
	}

	// A large body that compresses is kept whole.
	req.Body = strings.Repeat(`{"transcript":"Hello, I'd like a quote."}`, 20000)
	av, _ = encodeRequest(req)
	if got, _ := decodeRequest(av); got.Body != req.Body {
		t.Errorf("compressible 800 KB body not kept whole")
	}
}

func mustGet(t *testing.T, s *Store, id string) *webhook.Delivery {
	t.Helper()
	d, err := s.GetDelivery(t.Context(), id)
	if err != nil {
		t.Fatalf("GetDelivery(%s): %v", id, err)
	}
	return d
}

// TestRedriveRoundsFitAnItem: every redrive adds a round of attempts to a
// delivery's one item. Rounds of six failed attempts whose 4 KiB HTML
// error pages JSON-escape to about 24 KB each soon pass DynamoDB's 400 KB;
// from then on each attempt is still logged, without its excerpt.
func TestRedriveRoundsFitAnItem(t *testing.T) {
	s := New(fresh(t, testTables), testTables, Options{})
	now := webhooktest.Now()
	d := webhooktest.NewDelivery(webhooktest.UniqueID("whk_"), webhooktest.UniqueID("evt_"), now)
	page := strings.Repeat("<", webhook.MaxResponseExcerpt)
	var want []webhook.Attempt
	for gen := range 5 {
		for n := 1; n <= 6; n++ {
			a := webhooktest.NewAttempt(n, now.Add(time.Duration(gen*6+n)*time.Minute), 503)
			a.Generation, a.Response = gen, page
			if err := s.AppendAttempt(t.Context(), d, a); err != nil {
				t.Fatalf("generation %d attempt %d: %v", gen, n, err)
			}
			want = append(want, a)
		}
	}
	got := mustGet(t, s, d.ID).Attempts
	if len(got) != len(want) {
		t.Fatalf("%d attempts logged, want %d", len(got), len(want))
	}
	dropped := 0
	for i, a := range got {
		if a.Response == ExcerptDropped {
			dropped++
			a.Response = page
		}
		if a.Compare(want[i]) != 0 || a.Response != page || a.StatusCode != 503 {
			t.Errorf("attempt %d = generation %d attempt %d (%d), want generation %d attempt %d", i, a.Generation, a.N, a.StatusCode, want[i].Generation, want[i].N)
		}
	}
	if dropped == 0 || dropped == len(got) {
		t.Errorf("%d of %d excerpts dropped, want the later ones only", dropped, len(got))
	}
}
