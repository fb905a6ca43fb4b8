package bolt

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Queue limits (those of SQS, so that local mode rejects what AWS would).
const (
	MaxMessageSize   = webhook.MaxMessageSize // bytes of body
	MaxVisibility    = 12 * time.Hour         // visibility timeout
	maxQueueNameSize = webhook.MaxQueueName
)

// The queue model. Messages live in bolt, every queue's in one bucket,
// "messages", keyed by an 8-byte big-endian sequence number shared by all
// queues (send order), so that sends append to one place whatever the
// queue:
//
//	value = version(1) | len(queue)(1) | queue | readyAt(8, Unix ns) | sentAt(8, Unix ns) | len(id)(1) | id | body
//
// The bucket "queues" lists the queues ever sent to (name → nil). A
// deleted message leaves a tombstone in "acks" until the next purge (see
// DeleteMessage); Open skips acknowledged messages.
//
// Everything else — visibility, receipts, receive counts — lives in memory:
// per queue, a map from sequence number to a small message header (no
// body; ~150 bytes a message) and a min-heap of those headers ordered by
// the time each becomes visible. Open loads the headers of every stored
// message, so Receive is O(log n) per message taken, plus one read
// transaction to fetch the bodies.
//
// After a restart every undeleted message is visible again (from its
// original ready time, so a delayed message keeps its delay), with a
// receive count of 0: messages that were in flight are handed out again,
// which is at-least-once delivery, as on SQS.

const messageVersion = 2 // 1: the legacy layout (see migrate.go)

type message struct {
	seq       uint64
	id        string
	sentAt    int64 // Unix ns
	visibleAt int64 // Unix ns by Options.Now
	receipt   string
	receives  int
	index     int // in the heap
}

type messageHeap []*message

func (h messageHeap) Len() int { return len(h) }
func (h messageHeap) Less(i, j int) bool {
	if h[i].visibleAt != h[j].visibleAt {
		return h[i].visibleAt < h[j].visibleAt
	}
	return h[i].seq < h[j].seq
}
func (h messageHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *messageHeap) Push(x any) {
	m := x.(*message)
	m.index = len(*h)
	*h = append(*h, m)
}
func (h *messageHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	m.index = -1
	return m
}

type queue struct {
	persisted bool // has a bucket
	msgs      map[uint64]*message
	heap      messageHeap
	waiters   int
	wake      chan struct{} // closed (and replaced) when receivers should look again
}

func (q *queue) push(m *message) {
	q.msgs[m.seq] = m
	heap.Push(&q.heap, m)
}

func (q *queue) remove(m *message) {
	delete(q.msgs, m.seq)
	if m.index >= 0 {
		heap.Remove(&q.heap, m.index)
	}
}

// notify wakes every receiver waiting on the queue.
func (q *queue) notify() {
	if q.waiters > 0 {
		close(q.wake)
		q.wake = make(chan struct{})
	}
}

// take hides up to max visible messages for vis and returns copies.
func (q *queue) take(now int64, max int, vis time.Duration) []message {
	var ms []*message
	for len(ms) < max && len(q.heap) > 0 && q.heap[0].visibleAt <= now {
		ms = append(ms, heap.Pop(&q.heap).(*message))
	}
	out := make([]message, len(ms))
	for i, m := range ms {
		m.visibleAt = now + int64(vis)
		m.receives++
		m.receipt = strconv.FormatUint(m.seq, 36) + "." + token(8)
		heap.Push(&q.heap, m)
		out[i] = *m
	}
	return out
}

// queueLocked returns the in-memory queue called name, creating it.
func (db *DB) queueLocked(name string) *queue {
	q := db.queues[name]
	if q == nil {
		q = &queue{msgs: map[uint64]*message{}, wake: make(chan struct{})}
		db.queues[name] = q
	}
	return q
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func parseReceipt(r string) (uint64, bool) {
	s, _, ok := strings.Cut(r, ".")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 36, 64)
	return seq, err == nil
}

func encodeMessage(queue, id string, readyAt, sentAt int64, body []byte) []byte {
	v := make([]byte, 0, 19+len(queue)+len(id)+len(body))
	v = append(v, messageVersion, byte(len(queue)))
	v = append(v, queue...)
	v = binary.BigEndian.AppendUint64(v, uint64(readyAt))
	v = binary.BigEndian.AppendUint64(v, uint64(sentAt))
	v = append(v, byte(len(id)))
	v = append(v, id...)
	return append(v, body...)
}

var errCorruptMessage = errors.New("corrupt queue message")

// decodeMessage parses a stored message; queue and body alias v.
func decodeMessage(v []byte) (queue []byte, id string, readyAt, sentAt int64, body []byte, err error) {
	if len(v) < 2 || v[0] != messageVersion || len(v) < 2+int(v[1])+17 {
		return nil, "", 0, 0, nil, errCorruptMessage
	}
	queue, v = v[2:2+int(v[1])], v[2+int(v[1]):]
	readyAt = int64(binary.BigEndian.Uint64(v))
	sentAt = int64(binary.BigEndian.Uint64(v[8:]))
	n := 17 + int(v[16])
	if len(v) < n {
		return nil, "", 0, 0, nil, errCorruptMessage
	}
	return queue, string(v[17:n]), readyAt, sentAt, v[n:], nil
}

func (db *DB) loadQueues() error {
	return db.bolt.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketQueues).ForEach(func(name, _ []byte) error {
			db.queueLocked(string(name)).persisted = true
			return nil
		})
		if err != nil {
			return err
		}
		acked := map[string]bool{}
		err = tx.Bucket(bucketAcks).ForEach(func(k, _ []byte) error {
			acked[string(k)] = true
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			if acked[string(k)] {
				return nil
			}
			name, id, readyAt, sentAt, _, err := decodeMessage(v)
			if err != nil || len(k) != 8 {
				return fmt.Errorf("queue message %x: corrupt", k)
			}
			q := db.queueLocked(string(name))
			q.persisted = true
			q.push(&message{seq: binary.BigEndian.Uint64(k), id: id, sentAt: sentAt, visibleAt: readyAt})
			return nil
		})
	})
}

func checkQueueName(name string) error { return webhook.CheckQueueName(name) }

func checkOutMessages(msgs []webhook.OutMessage) error { return webhook.CheckOutMessages(msgs) }

// SendMessages implements webhook.Queue. A queue is created by the first
// message sent to it.
func (db *DB) SendMessages(ctx context.Context, name string, msgs []webhook.OutMessage) error {
	if err := checkQueueName(name); err != nil {
		return fmt.Errorf("bolt: send to queue: %w", err)
	}
	if err := checkOutMessages(msgs); err != nil {
		return fmt.Errorf("bolt: send to queue %s: %w", name, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	now := db.now().UnixNano()
	ms := make([]*message, len(msgs))
	vals := make([][]byte, len(msgs))
	for i, m := range msgs {
		ms[i] = &message{id: newUUID(), sentAt: now, visibleAt: now + int64(m.Delay)}
		vals[i] = encodeMessage(name, ms[i].id, ms[i].visibleAt, now, m.Body)
	}
	db.qmu.Lock()
	known := db.queueLocked(name).persisted
	db.qmu.Unlock()
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		if !known {
			if err := tx.Bucket(bucketQueues).Put([]byte(name), nil); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketMessages)
		b.FillPercent = appendFill
		for i, m := range ms {
			var err error
			if m.seq, err = b.NextSequence(); err != nil {
				return err
			}
			if err := b.Put(seqKey(m.seq), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: send to queue %s: %w", name, err)
	}
	db.qmu.Lock()
	q := db.queueLocked(name)
	q.persisted = true
	for _, m := range ms {
		q.push(m)
	}
	q.notify()
	db.qmu.Unlock()
	return nil
}

// ReceiveMessages implements webhook.Queue. It waits on a notification (a
// send, a change of visibility) or a timer set to when the next hidden
// message becomes visible, never polling; it returns early with ctx's error
// when ctx is done and with ErrClosed when the DB is closed. A receive on a
// queue nobody has sent to waits like one on an empty queue.
func (db *DB) ReceiveMessages(ctx context.Context, name string, max int, visibility, wait time.Duration) ([]webhook.InMessage, error) {
	switch err := checkQueueName(name); {
	case err != nil:
		return nil, fmt.Errorf("bolt: receive from queue: %w", err)
	case max < 1:
		return nil, fmt.Errorf("bolt: receive from queue %s: %w", name, webhook.Invalid("max", "must be at least 1, got %d", max))
	case visibility < 0 || visibility > MaxVisibility:
		return nil, fmt.Errorf("bolt: receive from queue %s: %w", name, webhook.Invalid("visibility", "must be between 0 and %s, got %s", MaxVisibility, visibility))
	case wait < 0:
		return nil, fmt.Errorf("bolt: receive from queue %s: %w", name, webhook.Invalid("wait", "must not be negative, got %s", wait))
	}
	deadline := time.Now().Add(wait)
	for {
		select {
		case <-db.done:
			return nil, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bolt: receive from queue %s: %w", name, err)
		}
		db.qmu.Lock()
		q := db.queueLocked(name)
		now := db.now().UnixNano()
		taken := q.take(now, max, visibility)
		if len(taken) > 0 {
			db.qmu.Unlock()
			out, err := db.readBodies(ctx, name, taken)
			if err != nil || len(out) > 0 {
				return out, err
			}
			continue // every message taken was deleted meanwhile
		}
		d := time.Until(deadline)
		if d <= 0 {
			db.qmu.Unlock()
			return nil, nil
		}
		if len(q.heap) > 0 {
			d = min(d, time.Duration(q.heap[0].visibleAt-now))
		}
		q.waiters++
		wake := q.wake
		db.qmu.Unlock()

		timer := time.NewTimer(d)
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
		case <-db.done:
		}
		timer.Stop()
		db.qmu.Lock()
		q.waiters--
		db.qmu.Unlock()
	}
}

// readBodies fetches the bodies of messages just taken. A message deleted
// meanwhile (its visibility ran out, someone else received and deleted it)
// is left out.
func (db *DB) readBodies(ctx context.Context, name string, taken []message) ([]webhook.InMessage, error) {
	out := make([]webhook.InMessage, 0, len(taken))
	var gone []message
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMessages)
		for _, m := range taken {
			v := b.Get(seqKey(m.seq))
			if v == nil {
				gone = append(gone, m)
				continue
			}
			_, _, _, _, body, err := decodeMessage(v)
			if err != nil {
				return fmt.Errorf("message %x: %w", m.seq, err)
			}
			out = append(out, webhook.InMessage{
				ID: m.id, Receipt: m.receipt, Body: slices.Clone(body),
				ReceiveCount: m.receives, SentAt: time.Unix(0, m.sentAt),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: receive from queue %s: %w", name, err)
	}
	if len(gone) > 0 {
		db.qmu.Lock()
		q := db.queueLocked(name)
		for _, g := range gone {
			if m := q.msgs[g.seq]; m != nil && m.receipt == g.receipt {
				q.remove(m)
			}
		}
		db.qmu.Unlock()
	}
	return out, nil
}

// lookupLocked returns the message a receipt designates if the receipt is still
// its current one, or nil.
func (db *DB) lookupLocked(name, receipt string) (*queue, *message, error) {
	seq, ok := parseReceipt(receipt)
	if !ok {
		return nil, nil, webhook.Invalid("receipt", "not a receipt handle returned by this queue")
	}
	q := db.queues[name]
	if q == nil {
		return nil, nil, nil
	}
	m := q.msgs[seq]
	if m == nil || m.receipt != receipt {
		return q, nil, nil
	}
	return q, m, nil
}

// DeleteMessage implements webhook.Queue. A stale receipt (the message was
// received again since), or one of a message already deleted, is a no-op.
func (db *DB) DeleteMessage(ctx context.Context, name, receipt string) error {
	if err := checkQueueName(name); err != nil {
		return fmt.Errorf("bolt: delete message: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: delete message from queue %s: %w", name, err)
	}
	db.qmu.Lock()
	q, m, err := db.lookupLocked(name, receipt)
	if m != nil {
		q.remove(m) // no one can receive it while it is being deleted
	}
	db.qmu.Unlock()
	if err != nil {
		return fmt.Errorf("bolt: delete message from queue %s: %w", name, err)
	}
	if m == nil {
		return nil
	}
	err = db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAcks)
		b.FillPercent = appendFill
		return b.Put(seqKey(m.seq), nil)
	})
	if err != nil {
		db.qmu.Lock() // not deleted: put it back
		if q.msgs[m.seq] == nil {
			q.push(m)
			q.notify()
		}
		db.qmu.Unlock()
		return fmt.Errorf("bolt: delete message %s from queue %s: %w", m.id, name, err)
	}
	if db.acked.Add(1) == purgeEvery {
		select {
		case db.purge <- struct{}{}:
		default:
		}
	}
	return nil
}

// Deleting a message writes a tombstone (its sequence number) to the acks
// bucket, appended like the messages themselves: one small entry in a
// page every delete of a commit shares, where deleting the message would
// rewrite a page of its own. The purge removes acknowledged messages and
// their tombstones in bulk, every purgeEvery deletes (and at Open and
// each Sweep): as messages are mostly deleted oldest first, it frees whole
// pages of them at once.
const (
	purgeEvery = 1024
	purgeLimit = 8 * purgeEvery // tombstones a purge takes at most
)

func (db *DB) purgeLoop() {
	defer db.wg.Done()
	for {
		select {
		case <-db.done:
			return
		case <-db.purge:
			db.purgeAcks(context.Background()) // errors: retried at the next purge
		}
	}
}

// purgeAcks removes up to limit acknowledged messages (all if limit < 0)
// and their tombstones, purgeLimit at a time.
func (db *DB) purgeAcks(ctx context.Context) error {
	for {
		var n int
		db.acked.Store(0)
		err := db.update(ctx, func(tx *bbolt.Tx) (err error) {
			n, err = purgeTx(tx, purgeLimit)
			return err
		})
		if err != nil || n < purgeLimit {
			return err
		}
	}
}

// purgeTx removes up to limit acknowledged messages (all if limit < 0)
// and their tombstones, and reports how many.
func purgeTx(tx *bbolt.Tx, limit int) (int, error) {
	acks, msgs := tx.Bucket(bucketAcks), tx.Bucket(bucketMessages)
	var ks [][]byte
	c := acks.Cursor()
	for k, _ := c.First(); k != nil && (limit < 0 || len(ks) < limit); k, _ = c.Next() {
		ks = append(ks, k)
	}
	mc := msgs.Cursor()
	for _, k := range ks {
		if mk, _ := mc.Seek(k); bytes.Equal(mk, k) {
			if err := mc.Delete(); err != nil {
				return 0, err
			}
		}
	}
	for _, k := range ks {
		if err := acks.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(ks), nil
}

// ChangeVisibility implements webhook.Queue. A stale receipt is a no-op,
// as for DeleteMessage: the message belongs to its latest receiver.
func (db *DB) ChangeVisibility(ctx context.Context, name, receipt string, d time.Duration) error {
	if err := checkQueueName(name); err != nil {
		return fmt.Errorf("bolt: change visibility: %w", err)
	}
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("bolt: change visibility in queue %s: %w", name, webhook.Invalid("visibility", "must be between 0 and %s, got %s", MaxVisibility, d))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: change visibility in queue %s: %w", name, err)
	}
	db.qmu.Lock()
	defer db.qmu.Unlock()
	q, m, err := db.lookupLocked(name, receipt)
	if err != nil {
		return fmt.Errorf("bolt: change visibility in queue %s: %w", name, err)
	}
	if m != nil {
		m.visibleAt = db.now().UnixNano() + int64(d)
		heap.Fix(&q.heap, m.index)
		q.notify()
	}
	return nil
}

// QueueNames returns the names of the queues messages were ever sent to,
// sorted.
func (db *DB) QueueNames() []string {
	db.qmu.Lock()
	defer db.qmu.Unlock()
	var names []string
	for name, q := range db.queues {
		if q.persisted {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// QueueDepth counts a queue's messages: visible now, in flight (received
// and hidden by a visibility timeout) and delayed (not yet visible, never
// received). It is O(messages in the queue).
func (db *DB) QueueDepth(name string) (visible, inflight, delayed int) {
	db.qmu.Lock()
	defer db.qmu.Unlock()
	q := db.queues[name]
	if q == nil {
		return 0, 0, 0
	}
	now := db.now().UnixNano()
	for _, m := range q.msgs {
		switch {
		case m.visibleAt <= now:
			visible++
		case m.receipt != "":
			inflight++
		default:
			delayed++
		}
	}
	return visible, inflight, delayed
}

// newUUID returns a random (version 4) UUID, the form of SQS message ids.
func newUUID() string {
	b := []byte(token(16))
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}
