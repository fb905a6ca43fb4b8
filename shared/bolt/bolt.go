package bolt

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// The ports *DB implements.
var (
	_ webhook.EndpointStore = (*DB)(nil)
	_ webhook.Idempotency   = (*DB)(nil)
	_ webhook.DeliveryLog   = (*DB)(nil)
	_ webhook.Queue         = (*DB)(nil)
	_ webhook.DeadLetters   = (*DB)(nil)
)

// Defaults of Options.
const (
	DefaultKeyTTL        = 7 * 24 * time.Hour
	DefaultSweepInterval = time.Minute
	DefaultSweepLimit    = 1000
	DefaultMaxBatchSize  = 1000
	DefaultLockTimeout   = time.Second
	// DefaultLogSegmentSize is the write-ahead log's segment size.
	DefaultLogSegmentSize = 32 << 20
)

// Options tune a DB. The zero value is ready to use.
type Options struct {
	// Now is the clock used for timestamps, leases, delays, visibility
	// timeouts and expiry (default time.Now). Waiting (long polls) uses real
	// timers for the differences Now reports.
	Now func() time.Time
	// KeyTTL is how long an idempotency key is kept after it was last
	// acquired, released or finished, so a finished key is remembered for
	// KeyTTL after it was finished. Default DefaultKeyTTL (7 days).
	KeyTTL time.Duration
	// SweepInterval is how often expired delivery logs and idempotency keys
	// are removed in the background. Default DefaultSweepInterval; a
	// negative value disables the background sweep (Sweep still works).
	SweepInterval time.Duration
	// SweepLimit bounds one sweep: at most SweepLimit delivery records and
	// SweepLimit idempotency keys are removed per sweep. Default
	// DefaultSweepLimit.
	SweepLimit int
	// MaxBatchSize is the most writes committed in one transaction (group
	// commit). Default DefaultMaxBatchSize.
	MaxBatchSize int
	// LockTimeout is how long Open waits for another process to release the
	// file. Default DefaultLockTimeout.
	LockTimeout time.Duration
	// LogSegmentSize is the size past which the write-ahead log starts a
	// new segment file. Default DefaultLogSegmentSize.
	LogSegmentSize int64
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeyTTL <= 0 {
		o.KeyTTL = DefaultKeyTTL
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.SweepLimit <= 0 {
		o.SweepLimit = DefaultSweepLimit
	}
	if o.MaxBatchSize <= 0 {
		o.MaxBatchSize = DefaultMaxBatchSize
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.LogSegmentSize <= 0 {
		o.LogSegmentSize = DefaultLogSegmentSize
	}
	return o
}

// Bucket names. Every bucket sits at the root of the one file (see also
// migrate.go for those of earlier versions).
var (
	bucketEndpoints          = []byte("endpoints")              // id → endpoint JSON
	bucketIDs                = []byte("ids")                    // key|'k' → keyRecord; id|'d' → seq
	bucketKeysExpiry         = []byte("idempotency_expiry")     // expiresAt|key → nil
	bucketDeliveryRecords    = []byte("delivery_records")       // seq → reference to the record (see records.go) or Delivery JSON
	bucketDeliveriesEndpoint = []byte("deliveries_by_endpoint") // len|endpoint|^createdAt|id → seq|expiresAt
	bucketDeliveriesExpiry   = []byte("deliveries_expiry")      // expiresAt|id → nil
	bucketDeadLetters        = []byte("dead_letters")           // id → dead letter JSON
	bucketDeadLettersAt      = []byte("dead_letters_by_at")     // at|id → nil
	bucketQueues             = []byte("queues")                 // name → nil: every queue sent to
	bucketMessages           = []byte("messages")               // earlier versions: seq → message, every queue's (now in the log)
	bucketAcks               = []byte("acks")                   // earlier versions: seq → nil, deleted messages
)

var rootBuckets = [][]byte{
	bucketEndpoints, bucketIDs, bucketKeysExpiry, bucketDeliveryRecords,
	bucketDeliveriesEndpoint, bucketDeliveriesExpiry, bucketDeadLetters,
	bucketDeadLettersAt, bucketQueues, bucketDeliverySegments,
}

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("bolt: database is closed")

// DB is an embedded, persistent store in one bbolt file. It implements
// every port of package webhook. It is safe for concurrent use by many
// goroutines of one process; the file is locked against other processes.
type DB struct {
	bolt *bbolt.DB
	opts Options
	now  func() time.Time

	ops     chan *op
	commits atomic.Int64 // transactions committed by the group committer
	writes  atomic.Int64 // write operations they carried

	closeMu sync.RWMutex // held for reading by each write while in flight
	closed  bool
	done    chan struct{} // closed by Close: stops the sweeper, wakes receivers
	wg      sync.WaitGroup

	wal      *wal
	records  *keptSegments
	journal  *journal
	ids      *idFilter    // may the bucket ids hold an entry?
	tidyMu   sync.Mutex   // one tidyLog at a time
	tidyErr  atomic.Value // the last error of tidyLog (string)
	sweepErr atomic.Value // the last error of the background sweep (string)

	qmu      sync.Mutex
	queues   map[string]*queue
	qseq     atomic.Uint64        // the last message sequence number
	cached   int64                // bytes of message bodies held in memory (bodyCache)
	segLive  map[uint64]*segUsage // by log segment
	replayed map[uint64]*queue    // at Open: live messages by seq

	kmu    sync.Mutex
	leases map[string]*keyState // idempotency keys with a lease or a call in progress
}

// Open opens (creating if needed) the database file at path.
func Open(path string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        opts.LockTimeout,
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	db := &DB{
		bolt:     bdb,
		opts:     opts,
		now:      opts.Now,
		ops:      make(chan *op, opts.MaxBatchSize),
		done:     make(chan struct{}),
		queues:   map[string]*queue{},
		leases:   map[string]*keyState{},
		journal:  newJournal(),
		segLive:  map[uint64]*segUsage{},
		replayed: map[uint64]*queue{},
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		for _, name := range rootBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err == nil {
		err = db.migrate()
	}
	if err == nil {
		// The file lock taken by bbolt.Open covers the kept segments and
		// the log too.
		db.records, err = openKeptSegments(path + ".records")
		if err != nil {
			err = fmt.Errorf("kept log segments: %w", err)
		}
	}
	if err == nil {
		db.wal, err = openWAL(path+".wal", opts.LogSegmentSize, db.replayRecord)
		if err != nil {
			err = fmt.Errorf("write-ahead log: %w", err)
		}
	}
	if err == nil {
		err = db.loadQueueNames()
		db.replayed = nil
	}
	if err == nil {
		err = db.removeUnused()
	}
	if err == nil {
		err = bdb.View(func(tx *bbolt.Tx) error {
			db.ids = newIDFilter(tx)
			return nil
		})
	}
	if err != nil {
		if db.wal != nil {
			db.wal.close()
		}
		if db.records != nil {
			db.records.close()
		}
		bdb.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	db.wg.Add(2)
	go db.commitLoop()
	go db.tidyLoop()
	if opts.SweepInterval > 0 {
		db.wg.Add(1)
		go db.sweepLoop()
	}
	return db, nil
}

// Close waits for writes in flight, stops the background work, wakes
// blocked receivers (they return ErrClosed) and closes the file. Calling it
// again returns nil.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.done)
	close(db.ops) // no writer holds closeMu, so no one sends any more
	db.closeMu.Unlock()
	db.wg.Wait()
	werr := errors.Join(db.wal.close(), db.records.close())
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("bolt: close: %w", werr)
	}
	return nil
}

func (db *DB) isClosed() bool {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	return db.closed
}

// Stats counts what the store has written since Open.
type Stats struct {
	Commits    int64 // B+tree transactions
	Writes     int64 // writes they carried (journaled ones included)
	LogGroups  int64 // log groups written (one write and fsync each)
	LogRecords int64 // records they carried
	// Trouble is the last error of each kind of background work, joined
	// by "; " ("" if none): applying the journal to the B+tree (retried at
	// every commit), retiring log segments (retried every second) and the
	// sweep of expired records (retried every Options.SweepInterval).
	Trouble string
}

// Stats returns what the store has written since Open.
func (db *DB) Stats() Stats {
	st := Stats{Commits: db.commits.Load(), Writes: db.writes.Load(),
		LogGroups: db.wal.groups.Load(), LogRecords: db.wal.records.Load()}
	var trouble []string
	if err := db.journal.lastErr(); err != nil {
		trouble = append(trouble, err.Error())
	}
	for _, v := range []*atomic.Value{&db.tidyErr, &db.sweepErr} {
		if t, _ := v.Load().(string); t != "" {
			trouble = append(trouble, t)
		}
	}
	st.Trouble = strings.Join(trouble, "; ")
	return st
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// every runs fn every interval until Close, as one of db.wg's goroutines.
func (db *DB) every(interval time.Duration, fn func()) {
	defer db.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-db.done:
			return
		case <-t.C:
			fn()
		}
	}
}

// op is one write waiting for the group committer.
type op struct {
	fn  func(*bbolt.Tx) error
	err chan error
}

// update runs fn in a write transaction shared with concurrent writers
// (group commit) and returns once that transaction is durably committed.
//
// fn may be run more than once (when another write in the same batch fails,
// the batch is rolled back and run again without it), so it must set its
// results from scratch on every run. fn returns an error only for storage
// trouble, which fails its whole transaction; outcomes such as "not found"
// or "conflict" are results, not errors, so that one caller's conflict never
// rolls back its neighbours' writes. fn runs on the committer, which every
// write waits for: callers prepare what they can (encoding records) before.
func (db *DB) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		return ErrClosed
	}
	o := &op{fn: fn, err: make(chan error, 1)}
	db.ops <- o
	return <-o.err
}

// view runs fn in a read transaction.
func (db *DB) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := db.bolt.View(fn)
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// commitLoop is the group committer: it takes every write waiting (up to
// MaxBatchSize) and commits them in one transaction, with the journaled
// writes waiting (see journal.go), so one fsync covers them all. It does
// not linger for more writes: writes arriving while a commit is in
// progress form the next batch, so a lone writer pays one commit's latency
// and concurrent writers share commits. With no write waiting it commits
// the journal every journalInterval, or once journalMax entries wait.
//
// After each commit it yields, so that the writers it has just released
// run, and queue their next writes, before it takes the next batch. Woken
// writers are queued on the committer's processor; without the yield they
// waited behind its next transaction (measured in local mode on 2 cores:
// 5 ms a write, and batches half as big).
func (db *DB) commitLoop() {
	defer db.wg.Done()
	batch := make([]*op, 0, db.opts.MaxBatchSize)
	tick := time.NewTicker(journalInterval)
	defer tick.Stop()
	for {
		batch = batch[:0]
		select {
		case o, ok := <-db.ops:
			if !ok {
				db.commit(nil) // what the journal holds, before the file closes
				return
			}
			batch = append(batch, o)
		case <-tick.C:
		case <-db.journal.kick:
		}
	fill:
		for len(batch) > 0 && len(batch) < db.opts.MaxBatchSize {
			select {
			case o, ok := <-db.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		if len(batch) == 0 && !db.journal.waiting() {
			continue
		}
		db.commit(batch)
		clear(batch) // drop the ops (and what their closures hold)
		runtime.Gosched()
	}
}

// commit runs batch in one transaction, after applying the journaled
// writes that are on disk. If one function fails, the transaction is
// rolled back, that function is run alone (so it gets its own error) and
// the rest are committed together again. If applying the journal fails,
// the journal stays pending (the next commit tries again) and the batch is
// committed without it.
func (db *DB) commit(batch []*op) {
	entries := db.journal.ready()
	for {
		failed := -1
		var jerr error
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			if jerr = db.applyJournal(tx, entries); jerr != nil {
				return jerr
			}
			for i, o := range batch {
				if err := safely(o.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		switch {
		case jerr != nil:
			db.journal.setErr(fmt.Errorf("apply journal: %w", jerr))
			entries = nil
			if len(batch) == 0 {
				return
			}
			continue
		case failed < 0 || len(batch) == 1:
			if err == nil {
				db.journal.applied(entries)
				if len(entries) > 0 {
					db.journal.setErr(nil)
				}
			}
			db.commits.Add(1)
			db.writes.Add(int64(len(batch) + len(entries)))
			for _, o := range batch {
				o.err <- err
			}
			return
		}
		o := batch[failed]
		batch = append(batch[:failed], batch[failed+1:]...)
		db.commits.Add(1)
		db.writes.Add(1)
		o.err <- db.bolt.Update(func(tx *bbolt.Tx) error { return safely(o.fn, tx) })
	}
}

func safely(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in write: %v", p)
		}
	}()
	return fn(tx)
}

// token returns 2n random hex digits (n ≤ 16). Tokens name leases and
// receipts inside this process, which needs them unique, not secret: they
// come from math/rand/v2 (ChaCha8, seeded by the runtime) with no system
// call, where crypto/rand made one getrandom call per token, three per
// delivery.
func token(n int) string {
	var raw [16]byte
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(raw[i:], rand.Uint64())
	}
	var b [32]byte
	hex.Encode(b[:], raw[:n])
	return string(b[:2*n])
}

// Page limits (webhook.Page).
const (
	defaultPageLimit = 50
	maxPageLimit     = 1000
)

func pageLimit(p webhook.Page) int {
	switch {
	case p.Limit <= 0:
		return defaultPageLimit
	case p.Limit > maxPageLimit:
		return maxPageLimit
	}
	return p.Limit
}
