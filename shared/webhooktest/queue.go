package webhooktest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Queue timings. Visibility timeouts and delays are whole seconds (SQS's
// unit); every check allows a second or two of slack.
const (
	shortVisibility = time.Second
	longVisibility  = time.Minute
	slack           = 2 * time.Second
)

// QueueName returns a fresh queue name (letters, digits and hyphens, at
// most 80 characters, as SQS requires) mentioning label.
func QueueName(label string) string {
	return UniqueID("wt-" + label + "-")
}

// TestQueue runs the conformance suite of webhook.Queue. Each subtest uses
// queues of its own, sends at most 10 messages and waits at most a few
// seconds; the whole suite takes about 10 s.
func TestQueue(t *testing.T, newQueue func(t *testing.T) webhook.Queue) {
	t.Run("SendReceiveDelete", func(t *testing.T) {
		q, name := newQueue(t), QueueName("basic")
		body := []byte(`{"delivery_id":"dlv_1","note":"ünïcödé <&> “quotes”\n"}`)
		before := time.Now()
		send(t, q, name, webhook.OutMessage{ID: "0", Body: body})
		after := time.Now()
		ms := receiveN(t, q, name, 1, shortVisibility)
		m := ms[0]
		if string(m.Body) != string(body) {
			t.Errorf("Body = %q, want %q", m.Body, body)
		}
		if m.ID == "" || m.Receipt == "" || m.ReceiveCount != 1 {
			t.Errorf("received ID %q, receipt %q, receive count %d; want an ID, a receipt, count 1", m.ID, m.Receipt, m.ReceiveCount)
		}
		if m.SentAt.Before(before.Add(-slack)) || m.SentAt.After(after.Add(slack)) {
			t.Errorf("SentAt = %s, want between %s and %s", m.SentAt, before, after)
		}
		if err := q.DeleteMessage(t.Context(), name, m.Receipt); err != nil {
			t.Fatalf("DeleteMessage: %v", err)
		}
		// Not deleted, it would be back after its 1 s visibility timeout.
		expectNone(t, q, name, shortVisibility+slack/2)
	})

	t.Run("VisibilityTimeoutRedelivers", func(t *testing.T) {
		q, name := newQueue(t), QueueName("vis")
		send(t, q, name, webhook.OutMessage{ID: "0", Body: []byte(`{"n":1}`)})
		first := receiveN(t, q, name, 1, shortVisibility)[0]
		hidden := time.Now()
		expectNone(t, q, name, 0)
		again := receiveN(t, q, name, 1, longVisibility)[0]
		if waited := time.Since(hidden); waited < shortVisibility/2 {
			t.Errorf("received again after %s, before the %s visibility timeout", waited, shortVisibility)
		}
		if again.ID != first.ID || string(again.Body) != string(first.Body) {
			t.Errorf("redelivered %s %q, want %s %q", again.ID, again.Body, first.ID, first.Body)
		}
		if again.ReceiveCount != 2 {
			t.Errorf("ReceiveCount = %d on the second receive, want 2", again.ReceiveCount)
		}
		if again.Receipt == first.Receipt {
			t.Errorf("second receive reused receipt %q", first.Receipt)
		}
		deleteAll(t, q, name, again)
	})

	t.Run("ChangeVisibilityZeroShowsNow", func(t *testing.T) {
		q, name := newQueue(t), QueueName("cv0")
		send(t, q, name, webhook.OutMessage{ID: "0", Body: []byte(`{"n":1}`)})
		m := receiveN(t, q, name, 1, longVisibility)[0]
		if err := q.ChangeVisibility(t.Context(), name, m.Receipt, 0); err != nil {
			t.Fatalf("ChangeVisibility(0): %v", err)
		}
		again := receiveN(t, q, name, 1, longVisibility)[0]
		if again.ID != m.ID || again.ReceiveCount != 2 {
			t.Errorf("after ChangeVisibility(0): got %s count %d, want %s count 2", again.ID, again.ReceiveCount, m.ID)
		}
		deleteAll(t, q, name, again)
	})

	t.Run("ChangeVisibilityHides", func(t *testing.T) {
		q, name := newQueue(t), QueueName("cvx")
		send(t, q, name, webhook.OutMessage{ID: "0", Body: []byte(`{"n":1}`)})
		m := receiveN(t, q, name, 1, shortVisibility)[0]
		if err := q.ChangeVisibility(t.Context(), name, m.Receipt, longVisibility); err != nil {
			t.Fatalf("ChangeVisibility(%s): %v", longVisibility, err)
		}
		// Past the original 1 s timeout, it stays hidden.
		expectNone(t, q, name, shortVisibility+slack/2)
		if err := q.ChangeVisibility(t.Context(), name, m.Receipt, shortVisibility); err != nil {
			t.Fatalf("ChangeVisibility(%s): %v", shortVisibility, err)
		}
		again := receiveN(t, q, name, 1, longVisibility)[0]
		deleteAll(t, q, name, again)
	})

	t.Run("DelayHonoured", func(t *testing.T) {
		q, name := newQueue(t), QueueName("delay")
		const delay = time.Second
		start := time.Now()
		send(t, q, name, webhook.OutMessage{ID: "0", Body: []byte(`{"delayed":true}`), Delay: delay})
		expectNone(t, q, name, 0)
		// One long poll: it must return when the delay is over, well
		// before its wait.
		ms, err := q.ReceiveMessages(t.Context(), name, 10, longVisibility, 3*delay+slack)
		if err != nil {
			t.Fatalf("ReceiveMessages: %v", err)
		}
		took := time.Since(start)
		if len(ms) != 1 {
			t.Fatalf("after the delay: %d messages, want 1", len(ms))
		}
		if took < delay-delay/10 {
			t.Errorf("delayed message visible after %s, before its %s delay", took, delay)
		}
		if took > delay+slack {
			t.Errorf("long poll returned %s after send, want soon after the %s delay", took, delay)
		}
		deleteAll(t, q, name, ms...)
	})

	t.Run("LongPollReturnsOnSend", func(t *testing.T) {
		q, name := newQueue(t), QueueName("poll")
		type result struct {
			ms  []webhook.InMessage
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			ms, err := q.ReceiveMessages(t.Context(), name, 10, longVisibility, 10*time.Second)
			done <- result{ms, err, time.Now()}
		}()
		time.Sleep(500 * time.Millisecond)
		sent := time.Now()
		send(t, q, name, webhook.OutMessage{ID: "0", Body: []byte(`{"n":1}`)})
		r := <-done
		if r.err != nil {
			t.Fatalf("ReceiveMessages: %v", r.err)
		}
		if len(r.ms) != 1 {
			t.Fatalf("long poll returned %d messages, want 1", len(r.ms))
		}
		if lag := r.at.Sub(sent); lag > slack {
			t.Errorf("long poll returned %s after the send, want at once", lag)
		}
		deleteAll(t, q, name, r.ms...)
	})

	t.Run("EmptyReceiveWaits", func(t *testing.T) {
		q, name := newQueue(t), QueueName("empty")
		const wait = time.Second
		start := time.Now()
		ms, err := q.ReceiveMessages(t.Context(), name, 10, longVisibility, wait)
		took := time.Since(start)
		if err != nil || len(ms) != 0 {
			t.Fatalf("ReceiveMessages(empty) = %d messages, %v; want none", len(ms), err)
		}
		if took < wait*8/10 || took > wait+slack {
			t.Errorf("empty receive with wait %s took %s", wait, took)
		}
	})

	t.Run("ContextCancelEndsWait", func(t *testing.T) {
		q, name := newQueue(t), QueueName("cancel")
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		ms, _ := q.ReceiveMessages(ctx, name, 10, longVisibility, 20*time.Second)
		if took := time.Since(start); took > slack {
			t.Errorf("ReceiveMessages returned %s after its context was cancelled at 200 ms", took)
		}
		if len(ms) != 0 {
			t.Errorf("cancelled receive on an empty queue returned %d messages", len(ms))
		}
	})

	t.Run("MaxRespected", func(t *testing.T) {
		q, name := newQueue(t), QueueName("max")
		send(t, q, name, outMessages(5, "max")...)
		ms, err := q.ReceiveMessages(t.Context(), name, 3, longVisibility, slack)
		if err != nil {
			t.Fatalf("ReceiveMessages(max 3): %v", err)
		}
		if len(ms) < 1 || len(ms) > 3 {
			t.Fatalf("ReceiveMessages(max 3) with 5 queued returned %d", len(ms))
		}
		rest := receiveN(t, q, name, 5-len(ms), longVisibility)
		all := append(ms, rest...)
		checkDistinct(t, all, outMessages(5, "max"))
		deleteAll(t, q, name, all...)
	})

	t.Run("QueuesAreIsolated", func(t *testing.T) {
		q := newQueue(t)
		a, b := QueueName("iso-a"), QueueName("iso-b")
		send(t, q, a, webhook.OutMessage{ID: "0", Body: []byte(`{"queue":"a"}`)})
		expectNone(t, q, b, 500*time.Millisecond)
		m := receiveN(t, q, a, 1, longVisibility)[0]
		if string(m.Body) != `{"queue":"a"}` {
			t.Errorf("queue a gave %q", m.Body)
		}
		// A receipt is only good in its own queue.
		if err := q.DeleteMessage(t.Context(), b, m.Receipt); err == nil {
			if err := q.ChangeVisibility(t.Context(), a, m.Receipt, 0); err != nil {
				t.Fatalf("ChangeVisibility: %v", err)
			}
			again := receiveN(t, q, a, 1, longVisibility)[0]
			m = again
		}
		deleteAll(t, q, a, m)
	})

	t.Run("DeleteWithStaleReceiptIsNoop", func(t *testing.T) {
		q, name := newQueue(t), QueueName("stale")
		send(t, q, name, webhook.OutMessage{ID: "0", Body: []byte(`{"n":1}`)})
		first := receiveN(t, q, name, 1, shortVisibility)[0]
		second := receiveN(t, q, name, 1, longVisibility)[0] // after the timeout
		if err := q.DeleteMessage(t.Context(), name, first.Receipt); err != nil {
			t.Fatalf("DeleteMessage(stale receipt) = %v, want nil", err)
		}
		if err := q.ChangeVisibility(t.Context(), name, second.Receipt, 0); err != nil {
			t.Fatalf("ChangeVisibility(current receipt): %v", err)
		}
		third := receiveN(t, q, name, 1, longVisibility)[0]
		if third.ID != first.ID || third.ReceiveCount != 3 {
			t.Errorf("after deleting with a stale receipt: got %s count %d, want %s still there, count 3", third.ID, third.ReceiveCount, first.ID)
		}
		deleteAll(t, q, name, third)
		expectNone(t, q, name, 0)
	})

	t.Run("BatchOfTen", func(t *testing.T) {
		q, name := newQueue(t), QueueName("batch")
		out := outMessages(10, "batch")
		send(t, q, name, out...)
		ms := receiveN(t, q, name, 10, longVisibility)
		checkDistinct(t, ms, out)
		deleteAll(t, q, name, ms...)
	})

	t.Run("InvalidMessagesRejected", func(t *testing.T) {
		q, name := newQueue(t), QueueName("invalid")
		tests := []struct {
			name string
			msg  webhook.OutMessage
		}{
			{"delay over the maximum", webhook.OutMessage{ID: "0", Body: []byte(`{}`), Delay: webhook.MaxQueueDelay + time.Second}},
			{"negative delay", webhook.OutMessage{ID: "0", Body: []byte(`{}`), Delay: -time.Second}},
			{"body over 256 KiB", webhook.OutMessage{ID: "0", Body: []byte(`"` + strings.Repeat("x", 256<<10) + `"`)}},
		}
		for _, tc := range tests {
			err := q.SendMessages(t.Context(), name, []webhook.OutMessage{tc.msg})
			if webhook.KindOf(err) != webhook.KindInvalid {
				t.Errorf("%s: SendMessages = %v, want a KindInvalid error", tc.name, err)
			}
		}
		expectNone(t, q, name, 0)
	})
}

func send(t *testing.T, q webhook.Queue, name string, msgs ...webhook.OutMessage) {
	t.Helper()
	if err := q.SendMessages(t.Context(), name, msgs); err != nil {
		t.Fatalf("SendMessages(%s, %d messages): %v", name, len(msgs), err)
	}
}

// outMessages returns n messages with ids "0".."n-1" and distinct bodies.
func outMessages(n int, label string) []webhook.OutMessage {
	ms := make([]webhook.OutMessage, n)
	for i := range ms {
		ms[i] = webhook.OutMessage{ID: fmt.Sprint(i), Body: fmt.Appendf(nil, `{"label":%q,"n":%d}`, label, i)}
	}
	return ms
}

// receiveN receives until it has n messages, for at most 6 s.
func receiveN(t *testing.T, q webhook.Queue, name string, n int, visibility time.Duration) []webhook.InMessage {
	t.Helper()
	var got []webhook.InMessage
	deadline := time.Now().Add(6 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		ms, err := q.ReceiveMessages(t.Context(), name, min(10, n-len(got)), visibility, time.Second)
		if err != nil {
			t.Fatalf("ReceiveMessages(%s): %v", name, err)
		}
		got = append(got, ms...)
	}
	if len(got) != n {
		t.Fatalf("ReceiveMessages(%s): got %d messages, want %d", name, len(got), n)
	}
	return got
}

// expectNone fails if a receive waiting up to wait gets a message.
func expectNone(t *testing.T, q webhook.Queue, name string, wait time.Duration) {
	t.Helper()
	ms, err := q.ReceiveMessages(t.Context(), name, 10, longVisibility, wait)
	if err != nil {
		t.Fatalf("ReceiveMessages(%s): %v", name, err)
	}
	if len(ms) > 0 {
		t.Fatalf("ReceiveMessages(%s) = %d messages (first %q, count %d), want none", name, len(ms), ms[0].Body, ms[0].ReceiveCount)
	}
}

// checkDistinct checks that ms are exactly the messages sent: each body
// once, distinct ids, first receives.
func checkDistinct(t *testing.T, ms []webhook.InMessage, sent []webhook.OutMessage) {
	t.Helper()
	want := map[string]bool{}
	for _, m := range sent {
		want[string(m.Body)] = true
	}
	ids := map[string]bool{}
	for _, m := range ms {
		if !want[string(m.Body)] {
			t.Errorf("unexpected or repeated body %q", m.Body)
		}
		delete(want, string(m.Body))
		if ids[m.ID] {
			t.Errorf("message id %s received twice", m.ID)
		}
		ids[m.ID] = true
		if m.ReceiveCount != 1 {
			t.Errorf("message %s: ReceiveCount %d, want 1", m.ID, m.ReceiveCount)
		}
	}
	for b := range want {
		t.Errorf("body %q never received", b)
	}
}

func deleteAll(t *testing.T, q webhook.Queue, name string, ms ...webhook.InMessage) {
	t.Helper()
	for _, m := range ms {
		if err := q.DeleteMessage(t.Context(), name, m.Receipt); err != nil {
			t.Errorf("DeleteMessage(%s): %v", m.ID, err)
		}
	}
}
