package bolt

import (
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
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

// The queue model. Messages live in the write-ahead log (wal.go), every
// queue's in one sequence of segments, so that a send or a delete is an
// append: no page of a B+tree rewritten, one fsync a group. Records:
//
//	send:   'S' | seq(8) | version(1) | len(queue)(1) | queue | readyAt(8, Unix ns) | sentAt(8, Unix ns) | len(id)(1) | id | body
//	delete: 'D' | seq(8)
//
// seq numbers messages across queues, in send order. Everything else —
// visibility, receipts, receive counts, where each body is — lives in
// memory: per queue, a map from sequence number to a small message header
// (no body; ~170 bytes a message) and a min-heap of those headers ordered
// by the time each becomes visible. Open replays the log, so Receive is
// O(log n) per message taken plus one read (pread, from the page cache as a
// rule) per body. The bucket "queues" in bolt lists the queues ever sent
// to (name → nil).
//
// A segment is retired, oldest first, once no live message's body is in
// it; a send record appended again later (the same seq) moves a message
// forward, which is how a few long-delayed messages stop pinning an old
// segment (see tidyLog). Replay keeps the last send record of a seq and
// drops it at its delete record, so the order of records in the log must
// be the order of decisions: both are appended under qmu.
//
// After a restart every undeleted message is visible again (from its
// original ready time, so a delayed message keeps its delay), with a
// receive count of 0: messages that were in flight are handed out again,
// which is at-least-once delivery, as on SQS.

const messageVersion = 2 // 1: the legacy layout (see migrate.go)

type message struct {
	seq       uint64
	pos       walPos // where the body is
	size      int    // of the body
	body      []byte // the body, while the cache has room (bodyCache)
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
	persisted bool // listed in the bucket "queues"
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
	return appendMessage(make([]byte, 0, 19+len(queue)+len(id)+len(body)), queue, id, readyAt, sentAt, body)
}

// appendMessage appends a message's encoding to dst.
func appendMessage(dst []byte, queue, id string, readyAt, sentAt int64, body []byte) []byte {
	dst = append(dst, messageVersion, byte(len(queue)))
	dst = append(dst, queue...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(readyAt))
	dst = binary.BigEndian.AppendUint64(dst, uint64(sentAt))
	dst = append(dst, byte(len(id)))
	dst = append(dst, id...)
	return append(dst, body...)
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

// Log record kinds.
const (
	recordSend   = 'S'
	recordDelete = 'D'
)

// sendRecord encodes a send record; the body is its last size bytes.
func sendRecord(seq uint64, queue, id string, readyAt, sentAt int64, body []byte) []byte {
	v := make([]byte, 0, 9+19+len(queue)+len(id)+len(body))
	v = binary.BigEndian.AppendUint64(append(v, recordSend), seq)
	return appendMessage(v, queue, id, readyAt, sentAt, body)
}

func deleteRecord(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{recordDelete}, seq)
}

// segUsage is what live messages hold of a log segment.
type segUsage struct {
	messages int
	bytes    int64
}

// useLocked counts m's body as held in its segment (n = 1) or no longer
// (n = -1).
func (db *DB) useLocked(pos walPos, size, n int) {
	u := db.segLive[pos.seg]
	if u == nil {
		u = &segUsage{}
		db.segLive[pos.seg] = u
	}
	u.messages += n
	u.bytes += int64(n * size)
	if u.messages == 0 {
		delete(db.segLive, pos.seg)
	}
}

// replayQueueRecord applies one log record at Open.
func (db *DB) replayQueueRecord(pos walPos, p []byte) error {
	if len(p) < 9 {
		return fmt.Errorf("record at %d: %w", pos.off, errCorruptMessage)
	}
	seq := binary.BigEndian.Uint64(p[1:])
	db.qseq.Store(max(db.qseq.Load(), seq))
	switch p[0] {
	case recordSend:
		name, id, readyAt, sentAt, body, err := decodeMessage(p[9:])
		if err != nil {
			return fmt.Errorf("record at %d: %w", pos.off, err)
		}
		q := db.queueLocked(string(name))
		if old := q.msgs[seq]; old != nil { // moved forward
			db.useLocked(old.pos, old.size, -1)
			q.remove(old)
		}
		m := &message{seq: seq, id: id, sentAt: sentAt, visibleAt: readyAt, size: len(body),
			pos: walPos{pos.seg, pos.off + int64(len(p)-len(body))}}
		q.push(m)
		db.replayed[seq] = q
		db.useLocked(m.pos, m.size, 1)
	case recordDelete:
		if q := db.replayed[seq]; q != nil {
			if m := q.msgs[seq]; m != nil {
				db.useLocked(m.pos, m.size, -1)
				q.remove(m)
			}
			delete(db.replayed, seq)
		}
	default:
		return fmt.Errorf("record at %d: unknown kind %q", pos.off, p[0])
	}
	return nil
}

// loadQueueNames marks the queues listed in bolt, and moves messages that
// an earlier version stored in bolt (the buckets "messages" and "acks")
// to the log, keeping their sequence numbers; a move interrupted by a
// crash is redone at the next Open, skipping the messages already moved
// and not yet deleted (one deleted meanwhile may be moved again:
// at-least-once, as after any crash).
func (db *DB) loadQueueNames() error {
	var recs [][]byte
	var moved []*message
	var names []string
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketQueues).ForEach(func(name, _ []byte) error {
			db.queueLocked(string(name)).persisted = true
			return nil
		})
		if err != nil {
			return err
		}
		msgs, acks := tx.Bucket(bucketMessages), tx.Bucket(bucketAcks)
		if msgs == nil {
			return nil
		}
		return msgs.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("queue message %x: corrupt", k)
			}
			seq := binary.BigEndian.Uint64(k)
			if (acks != nil && acks.Get(k) != nil) || db.replayed[seq] != nil {
				return nil
			}
			name, id, readyAt, sentAt, body, err := decodeMessage(v)
			if err != nil {
				return fmt.Errorf("queue message %x: %w", k, err)
			}
			recs = append(recs, sendRecord(seq, string(name), id, readyAt, sentAt, body))
			moved = append(moved, &message{seq: seq, id: id, sentAt: sentAt, visibleAt: readyAt, size: len(body)})
			names = append(names, string(name))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for len(recs) > 0 {
		n := min(len(recs), 1000)
		pos, g, err := db.wal.append(recs[:n]...)
		if err == nil {
			err = g.wait()
		}
		if err != nil {
			return fmt.Errorf("move queue messages to the log: %w", err)
		}
		for i, m := range moved[:n] {
			m.pos = walPos{pos[i].seg, pos[i].off + int64(len(recs[i])-m.size)}
			q := db.queueLocked(names[i])
			q.push(m)
			db.replayed[m.seq] = q
			db.useLocked(m.pos, m.size, 1)
			db.qseq.Store(max(db.qseq.Load(), m.seq))
		}
		recs, moved, names = recs[n:], moved[n:], names[n:]
	}
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMessages, bucketAcks} {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		return nil
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
	queues := make([]string, len(msgs))
	for i := range queues {
		queues[i] = name
	}
	if err := db.send(ctx, queues, msgs); err != nil {
		return fmt.Errorf("bolt: send to queue %s: %w", name, err)
	}
	return nil
}

// SendEach sends bodies[i] to queues[i], for every i, with one log append
// and one wait for them all: the filter's fan-out of an event, one message
// per endpoint queue, costs one write instead of a send per endpoint. On
// an error none of the messages may be taken as sent.
func (db *DB) SendEach(ctx context.Context, queues []string, bodies [][]byte) error {
	if len(queues) != len(bodies) {
		return fmt.Errorf("bolt: send each: %w", webhook.Invalid("bodies", "%d bodies for %d queues", len(bodies), len(queues)))
	}
	msgs := make([]webhook.OutMessage, len(bodies))
	for i, q := range queues {
		if err := checkQueueName(q); err != nil {
			return fmt.Errorf("bolt: send each: queues[%d]: %w", i, err)
		}
		if err := webhook.CheckMessageBody(fmt.Sprintf("bodies[%d]", i), bodies[i]); err != nil {
			return fmt.Errorf("bolt: send each: to queue %s: %w", q, err)
		}
		msgs[i] = webhook.OutMessage{Body: bodies[i]}
	}
	if err := db.send(ctx, queues, msgs); err != nil {
		return fmt.Errorf("bolt: send each: %w", err)
	}
	return nil
}

// send appends msgs[i] to queues[i], checked, in one log group, and
// makes them visible to receivers once the group is durable.
func (db *DB) send(ctx context.Context, queues []string, msgs []webhook.OutMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	now := db.now().UnixNano()
	ms := make([]*message, len(msgs))
	recs := make([][]byte, len(msgs))
	for i, m := range msgs {
		ms[i] = &message{seq: db.qseq.Add(1), id: newUUID(), sentAt: now, visibleAt: now + int64(m.Delay), size: len(m.Body)}
		recs[i] = sendRecord(ms[i].seq, queues[i], ms[i].id, ms[i].visibleAt, now, m.Body)
	}
	// A queue new to the store is listed first: once the messages are in
	// the log they are sent (a replay finds them), so nothing may fail
	// after the append but the append's own write.
	db.qmu.Lock()
	var unknown []string
	for _, name := range queues {
		if !db.queueLocked(name).persisted && !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		db.qmu.Unlock()
		err := db.update(ctx, func(tx *bbolt.Tx) error {
			for _, name := range unknown {
				if err := tx.Bucket(bucketQueues).Put([]byte(name), nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		db.qmu.Lock()
	}
	// Appended under qmu, so that the segment is counted as held before
	// tidyLog can look at it.
	for i, m := range ms {
		if db.cached+int64(m.size) <= bodyCache { // the record is not reused: its tail is the body
			m.body = recs[i][len(recs[i])-m.size:]
			db.cached += int64(m.size)
		}
	}
	pos, g, err := db.wal.append(recs...)
	if err == nil {
		for i, m := range ms { // held from now on: the segment stays
			m.pos = walPos{pos[i].seg, pos[i].off + int64(len(recs[i])-m.size)}
			db.useLocked(m.pos, m.size, 1)
		}
	}
	db.qmu.Unlock()
	if err == nil {
		err = g.wait()
	}
	db.qmu.Lock()
	defer db.qmu.Unlock()
	if err != nil {
		for _, m := range ms {
			if pos != nil {
				db.useLocked(m.pos, m.size, -1)
			}
			db.uncacheLocked(m)
		}
		return err
	}
	for i, m := range ms {
		q := db.queueLocked(queues[i])
		q.persisted = true
		q.push(m)
	}
	for i, name := range queues {
		if i == 0 || name != queues[i-1] {
			db.queues[name].notify()
		}
	}
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
			out, err := db.readBodies(name, taken)
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
// is left out; one moved forward in the log meanwhile is read where it is
// now.
func (db *DB) readBodies(name string, taken []message) ([]webhook.InMessage, error) {
	out := make([]webhook.InMessage, 0, len(taken))
	for _, m := range taken {
		if m.body != nil {
			out = append(out, webhook.InMessage{
				ID: m.id, Receipt: m.receipt, Body: m.body, // read-only (webhook.Queue)
				ReceiveCount: m.receives, SentAt: time.Unix(0, m.sentAt),
			})
			continue
		}
		body, err := db.wal.readAt(m.pos, m.size)
		if err != nil {
			db.qmu.Lock()
			cur := db.queueLocked(name).msgs[m.seq]
			var pos walPos
			if cur != nil {
				pos = cur.pos
			}
			db.qmu.Unlock()
			if cur == nil {
				continue
			}
			if body, err = db.wal.readAt(pos, m.size); err != nil {
				return nil, fmt.Errorf("bolt: receive from queue %s: message %s: %w", name, m.id, err)
			}
		}
		out = append(out, webhook.InMessage{
			ID: m.id, Receipt: m.receipt, Body: body,
			ReceiveCount: m.receives, SentAt: time.Unix(0, m.sentAt),
		})
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
	return db.DeleteMessages(ctx, name, []string{receipt})
}

// DeleteMessages deletes the messages of queue name that receipts
// designate, as DeleteMessage does each, with one log append and one wait
// for them all: local mode settles a handled batch with it, as Lambda's
// event source mapping uses DeleteMessageBatch. A receipt that is not one
// fails the call before anything is deleted.
func (db *DB) DeleteMessages(ctx context.Context, name string, receipts []string) error {
	if err := checkQueueName(name); err != nil {
		return fmt.Errorf("bolt: delete message: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: delete message from queue %s: %w", name, err)
	}
	for _, r := range receipts {
		if _, ok := parseReceipt(r); !ok {
			return fmt.Errorf("bolt: delete message from queue %s: %w", name, webhook.Invalid("receipt", "not a receipt handle returned by this queue"))
		}
	}
	db.qmu.Lock()
	var q *queue
	var ms []*message
	for _, r := range receipts {
		qq, m, _ := db.lookupLocked(name, r) // valid: checked above
		if m != nil {
			q = qq
			q.remove(m) // no one can receive it while it is being deleted
			ms = append(ms, m)
		}
	}
	var g *walGroup
	var err error
	if len(ms) > 0 {
		recs := make([][]byte, len(ms))
		for i, m := range ms {
			recs[i] = deleteRecord(m.seq)
		}
		if _, g, err = db.wal.append(recs...); err != nil {
			for _, m := range ms {
				q.push(m)
			}
		}
	}
	db.qmu.Unlock()
	if err != nil {
		return fmt.Errorf("bolt: delete message from queue %s: %w", name, err)
	}
	if len(ms) == 0 {
		return nil
	}
	err = g.wait()
	db.qmu.Lock()
	defer db.qmu.Unlock()
	if err != nil {
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.id
			if q.msgs[m.seq] == nil { // not deleted: put it back
				q.push(m)
			}
		}
		q.notify()
		return fmt.Errorf("bolt: delete message %s from queue %s: %w", strings.Join(ids, ", "), name, err)
	}
	for _, m := range ms {
		db.useLocked(m.pos, m.size, -1)
		db.uncacheLocked(m)
	}
	return nil
}

// bodyCache bounds the bytes of message bodies kept in memory: most
// messages are received within milliseconds of being sent, and a read from
// the log costs a system call; past the bound (a backlog) bodies are read
// from the log. 8 MiB holds thousands of messages in flight. 64 MiB was
// measured too, end to end with a backlog of 20,000 and 60,000 deliveries
// (alternated runs): the same CPU per delivery, and about 50 and 140 MB
// more resident memory (the cached bodies, and the heap the collector
// lets grow over them).
const bodyCache = 8 << 20

func (db *DB) uncacheLocked(m *message) {
	if m.body != nil {
		db.cached -= int64(len(m.body))
		m.body = nil
	}
}

// tidyLog retires the log's oldest segments while no live message's body
// is in them, and moves the live messages of the oldest segment forward
// (appending their send records again) when they hold little of it
// (≤ tidyShare) and at least tidyBehind segments follow it: so a few
// messages with a long delay do not pin the log, while a large backlog is
// not copied over and over. It runs in the background, after segments
// fill and every tidyInterval.
func (db *DB) tidyLog() error {
	db.tidyMu.Lock()
	defer db.tidyMu.Unlock()
	for {
		ids := db.wal.segmentIDs()
		if len(ids) < 2 {
			return nil
		}
		oldest := ids[0]
		db.qmu.Lock()
		u := db.segLive[oldest]
		var live []message
		var queues []string
		if u != nil && len(ids) > tidyBehind && u.bytes <= db.opts.LogSegmentSize*tidyShare/100 {
			for name, q := range db.queues {
				for _, m := range q.msgs {
					if m.pos.seg == oldest {
						live = append(live, *m)
						queues = append(queues, name)
					}
				}
			}
		}
		db.qmu.Unlock()
		switch {
		case u == nil && db.journal.holds(oldest):
			return nil // until the committer applies it
		case u == nil:
			if err := db.retireSegment(oldest); err != nil {
				return err
			}
			continue
		case live == nil:
			return nil
		}
		if err := db.moveForward(oldest, live, queues); err != nil {
			return err
		}
	}
}

const (
	tidyBehind   = 2
	tidyShare    = 25 // percent
	tidyInterval = time.Second
)

// moveForward appends the send records of live (messages of segment seg
// in queues) again and points them at their new place.
func (db *DB) moveForward(seg uint64, live []message, queues []string) error {
	recs := make([][]byte, len(live))
	for i, m := range live {
		body := m.body
		if body == nil {
			var err error
			if body, err = db.wal.readAt(m.pos, m.size); err != nil {
				return err
			}
		}
		ready := m.visibleAt
		if m.receives > 0 { // received already: ready at once after a restart
			ready = m.sentAt
		}
		recs[i] = sendRecord(m.seq, queues[i], m.id, ready, m.sentAt, body)
	}
	db.qmu.Lock()
	var keep []int
	for i, m := range live {
		if cur := db.queueLocked(queues[i]).msgs[m.seq]; cur != nil && cur.pos == m.pos {
			keep = append(keep, i)
		}
	}
	sel := make([][]byte, len(keep))
	for j, i := range keep {
		sel[j] = recs[i]
	}
	pos, g, err := db.wal.append(sel...)
	if err == nil {
		for j, i := range keep {
			db.useLocked(walPos{pos[j].seg, pos[j].off + int64(len(sel[j])-live[i].size)}, live[i].size, 1)
		}
	}
	db.qmu.Unlock()
	if err != nil {
		return err
	}
	err = g.wait()
	db.qmu.Lock()
	defer db.qmu.Unlock()
	for j, i := range keep {
		m := live[i]
		to := walPos{pos[j].seg, pos[j].off + int64(len(sel[j])-m.size)}
		cur := db.queueLocked(queues[i]).msgs[m.seq]
		if err == nil && cur != nil && cur.pos == m.pos {
			db.useLocked(m.pos, m.size, -1)
			cur.pos = to
		} else {
			db.useLocked(to, m.size, -1)
		}
	}
	return err
}

func (db *DB) tidyLoop() {
	db.every(tidyInterval, func() {
		if err := db.tidyLog(); err != nil {
			db.tidyErr.Store("retire log segments: " + err.Error())
		} else {
			db.tidyErr.Store("")
		}
	})
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

// QueueLen is how many messages a queue holds (visible, in flight or
// delayed), in O(1).
func (db *DB) QueueLen(name string) int {
	db.qmu.Lock()
	defer db.qmu.Unlock()
	if q := db.queues[name]; q != nil {
		return len(q.msgs)
	}
	return 0
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
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	raw[6] = raw[6]&0x0f | 0x40 // version 4
	raw[8] = raw[8]&0x3f | 0x80 // the RFC 9562 variant
	var b [36]byte
	hex.Encode(b[0:8], raw[0:4])
	hex.Encode(b[9:13], raw[4:6])
	hex.Encode(b[14:18], raw[6:8])
	hex.Encode(b[19:23], raw[8:10])
	hex.Encode(b[24:36], raw[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b[:])
}
