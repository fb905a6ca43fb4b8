package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// The journal: the writes a delivery makes on its way (an idempotency
// key's outcome, the delivery's log record) are made durable by appending
// them to the write-ahead log, and reach the B+tree later, many at once:
// the committer applies every journaled write in its next transaction, and
// when it has nothing else to do at least every journalInterval (sooner
// once journalMax are waiting). Until then they are kept in memory (the
// overlay) and reads look there first. A log segment holding a journaled
// write that is not yet in the B+tree is not retired; after a crash Open
// replays every journaled write still in the log, in order, and the
// committer applies them again: each is the whole new state of its key or
// record, so applying one twice changes nothing. (A record swept since
// would come back, expired, so invisible, until the next sweep.)
//
// It makes a delivery's writes cost an append each instead of a share of
// a transaction's pages and two fsyncs on the committer that every write
// waits for; applied in batches a thousand times bigger, the pages a
// delivery costs the B+tree shrink too.
//
// A delivery record is in the overlay from the moment its append is
// queued, before it is on disk, so a concurrent reader may see a write
// whose AppendAttempt then fails. An append fails only when the log can no
// longer be written, and then every later write fails too: the store must
// be reopened, and the log tells what was durable.
const (
	recordKey      = 'K' // 'K' | uvarint len(key) | key | keyRecord
	recordDelivery = 'L' // 'L' | Delivery JSON
)

const (
	journalMax    = 8192
	deliveryLocks = 64
)

// journalInterval is a variable for tests. (500 ms was measured too: the
// same CPU per delivery.)
var journalInterval = 100 * time.Millisecond

// journalEntry is one journaled write.
type journalEntry struct {
	key string     // an idempotency key's new state, or
	rec *keyRecord //
	d   *webhook.Delivery
	v   []byte            // d's JSON
	old *webhook.Delivery // the record d replaces, known when written (nil: none)
	// replayed: written before the last Open, so old is unknown.
	replayed bool
	seg      uint64    // where its payload is in the log
	off      int64     //
	g        *walGroup // nil once known to be durable
}

type journal struct {
	mu         sync.Mutex
	keys       map[string]*journalEntry
	deliveries map[string]*journalEntry
	pending    []*journalEntry // in log order, not yet applied
	segs       map[uint64]int  // pending entries by log segment
	kick       chan struct{}   // wakes the committer when journalMax are pending
	err        error           // the last failure to apply

	dlocks [deliveryLocks]sync.Mutex // one AppendAttempt at a time per delivery
	seed   maphash.Seed
}

func newJournal() *journal {
	return &journal{
		keys: map[string]*journalEntry{}, deliveries: map[string]*journalEntry{},
		segs: map[uint64]int{}, kick: make(chan struct{}, 1), seed: maphash.MakeSeed(),
	}
}

func (j *journal) lockDelivery(id string) *sync.Mutex {
	m := &j.dlocks[maphash.String(j.seed, id)%deliveryLocks]
	m.Lock()
	return m
}

func keyPayload(key string, rec *keyRecord) []byte {
	v := binary.AppendUvarint([]byte{recordKey}, uint64(len(key)))
	v = append(v, key...)
	return append(v, rec.encode()...)
}

// journalWrite appends the entries' records to the log, in one group, and
// puts the entries in the overlay; the caller waits for the group
// returned.
func (db *DB) journalWrite(entries []*journalEntry, payloads [][]byte) (*walGroup, error) {
	j := db.journal
	j.mu.Lock()
	defer j.mu.Unlock()
	pos, g, err := db.wal.append(payloads...)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		e.seg, e.off, e.g = pos[i].seg, pos[i].off, g
		j.addLocked(e)
	}
	return g, nil
}

func (j *journal) addLocked(e *journalEntry) {
	if e.d != nil {
		j.deliveries[e.d.ID] = e
	} else {
		j.keys[e.key] = e
	}
	j.pending = append(j.pending, e)
	j.segs[e.seg]++
	if len(j.pending) == journalMax {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
}

// replayJournalRecord puts a journaled write found in the log at Open back
// in the overlay, to be applied again.
func (db *DB) replayJournalRecord(pos walPos, p []byte) error {
	e := &journalEntry{seg: pos.seg, off: pos.off, replayed: true}
	switch p[0] {
	case recordKey:
		n, k := binary.Uvarint(p[1:])
		if k <= 0 || uint64(len(p)-1-k) < n {
			return fmt.Errorf("record at %d: corrupt key record", pos.off)
		}
		e.key = string(p[1+k : 1+k+int(n)])
		rec, err := decodeKeyRecord(p[1+k+int(n):])
		if err != nil {
			return fmt.Errorf("record at %d: %w", pos.off, err)
		}
		e.rec = rec
	case recordDelivery:
		e.v = slices.Clone(p[1:])
		e.d = new(webhook.Delivery)
		if err := json.Unmarshal(e.v, e.d); err != nil {
			return fmt.Errorf("record at %d: delivery: %w", pos.off, err)
		}
	}
	db.journal.addLocked(e)
	return nil
}

// replayRecord applies one log record at Open.
func (db *DB) replayRecord(pos walPos, p []byte) error {
	switch p[0] {
	case recordKey, recordDelivery:
		return db.replayJournalRecord(pos, p)
	}
	return db.replayQueueRecord(pos, p)
}

func (e *journalEntry) durable() bool {
	if e.g == nil {
		return true
	}
	select {
	case <-e.g.done:
		return e.g.err == nil
	default:
		return false
	}
}

// ready returns the pending entries, oldest first, up to the first not
// yet on disk.
func (j *journal) ready() []*journalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for n < len(j.pending) && j.pending[n].durable() {
		j.pending[n].g = nil
		n++
	}
	return j.pending[:n:n]
}

// waiting reports whether entries are pending.
func (j *journal) waiting() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending) > 0
}

// applied drops entries, the oldest pending ones, now committed to the
// B+tree, from the overlay.
func (j *journal) applied(entries []*journalEntry) {
	if len(entries) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range entries {
		if j.segs[e.seg]--; j.segs[e.seg] == 0 {
			delete(j.segs, e.seg)
		}
		if e.d != nil {
			if j.deliveries[e.d.ID] == e {
				delete(j.deliveries, e.d.ID)
			}
		} else if j.keys[e.key] == e {
			delete(j.keys, e.key)
		}
	}
	clear(j.pending[:len(entries)]) // entries shares this array
	j.pending = j.pending[len(entries):]
}

// holds reports whether log segment seg holds entries not yet applied.
func (j *journal) holds(seg uint64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.segs[seg] > 0
}

func (j *journal) key(key string) *keyRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e := j.keys[key]; e != nil {
		rec := *e.rec
		return &rec
	}
	return nil
}

func (j *journal) delivery(id string) *journalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.deliveries[id]
}

func (j *journal) lastErr() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

func (j *journal) setErr(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.err = err
}

// applyJournal writes entries to the B+tree, in order. A delivery record
// is stored as a reference to its place in the log (see records.go).
func (db *DB) applyJournal(tx *bbolt.Tx, entries []*journalEntry) error {
	now := db.now().UnixNano()
	for _, e := range entries {
		if e.d == nil {
			db.ids.add(keyID(e.key))
			_, stored, err := getKey(tx, e.key, now)
			if err != nil {
				return err
			}
			if err := putKey(tx, e.key, e.rec, stored); err != nil {
				return err
			}
			continue
		}
		db.ids.add(deliveryID(e.d.ID))
		old, seq := e.old, tx.Bucket(bucketIDs).Get(deliveryID(e.d.ID))
		if e.replayed && seq != nil {
			var err error
			if old, err = db.getRecord(tx, seq); err != nil {
				return err
			}
		}
		if old != nil {
			if err := deleteIndexes(tx, old); err != nil {
				return err
			}
		}
		if err := putDelivery(tx, e.d, slices.Clone(seq), recordRefOf(walPos{e.seg, e.off}, e.v)); err != nil {
			return fmt.Errorf("delivery %s: %w", e.d.ID, err)
		}
	}
	return nil
}
