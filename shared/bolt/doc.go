// Package bolt is the embedded adapter: every port of package webhook
// (EndpointStore, Idempotency, DeliveryLog, Queue, DeadLetters) kept in one
// bbolt file, for local mode. It passes the conformance suites of package
// webhooktest.
//
// # Durability and group commit
//
// Every write is committed and fsynced before the call returns. Writes are
// funnelled to one committer goroutine that commits all the writes waiting
// (up to Options.MaxBatchSize) in one transaction, so concurrent writers
// share each fsync while a lone writer pays only its own commit. A write
// that fails (storage trouble, never a domain outcome such as a conflict)
// is retried alone so that it cannot fail its neighbours. The freelist is
// not synced (bbolt's NoFreelistSync, as etcd does): fewer pages a commit;
// Open rebuilds it by scanning the file. bbolt's own db.Batch was measured
// too: its fixed linger (MaxBatchDelay) halves a lone writer's throughput
// and does no better under load.
//
// The committer is the store's bottleneck, and a commit's cost is mostly
// the pages it writes (one pwrite each, then two fdatasyncs), random pages
// costing most. So the layout aims at few pages per write, written in key
// order where it can: callers encode records before queueing their write,
// so the committer only reads, merges and puts. A delivery now writes
// about 3 pages where it wrote 6 (BenchmarkPipeline reports pages per
// delivery).
//
// # Layout
//
// Endpoints by id. Idempotency keys and delivery ids share one bucket,
// "ids", told apart by a last byte ('k', 'd'): a delivery's idempotency key
// is its id, so the two entries written as a delivery ends (its key done,
// its log record's id) are neighbours in one page, and the random-keyed
// page a delivery writes is written once, not twice. Key records are a few
// bytes of binary, with an expiry index (expiry, key). A delivery record is
// JSON (raw fields byte for byte) in "delivery_records" under a sequence
// number, so new records are appended rather than inserted at random;
// "ids" maps its id to that number, deliveries_by_endpoint (endpoint,
// newest CreatedAt first, id → number and expiry) serves listings and
// deliveries_expiry (expiry, id) the sweep. Dead letters by id with an
// index by At. Buckets written in key order (messages, tombstones, records,
// expiry indexes) fill their pages (FillPercent 0.95) instead of splitting
// them half full. Times keep nanoseconds. Cursors are opaque (base64 of an
// index key). Files of earlier versions are migrated by Open (migrate.go).
//
// # Idempotency leases
//
// A lease lives in memory only; what is stored is each key's outcome:
// done, or the highest attempt released. Acquire reads that (ErrDone,
// ErrStale) and checks and records the lease in a mutex-guarded map
// (ErrHeld, expired-lease takeover) without writing; Finish and Release
// check the lease in the map, then store the outcome durably and drop it.
// Calls on one key are serialised (a key busy with a read or a commit
// makes the next call wait), so each call sees the outcome of the one
// before: concurrent Acquires have one winner, an Acquire racing the
// Release of an expired lease either takes it over (the Release then
// conflicts) or sees the attempt released. A lease nobody ends is
// forgotten by the sweep when a stored one would have expired with its
// key (KeyTTL after it was taken, or at its end if later).
//
// This is correct because the store is embedded and single-process: bbolt
// locks the file (flock) against every other process, so every lease
// holder lives in this process, and a lease cannot outlive it. After a
// crash every lease of the dead process is gone, which is what local mode
// asks for at start-up (ReleaseAllLeases, now only a reset of the map):
// the work is redone under the same attempt number, as after a lease
// expires. What must survive a crash does: a finished key stays done, a
// released attempt stays released. It saves one random-keyed write per
// delivery and per event.
//
// # Expiry
//
// Idempotency keys expire Options.KeyTTL (default 7 days) after they were
// last acquired, released or finished, so a finished key is remembered 7
// days after it finished; a delivery log record expires at its ExpiresAt
// (zero: never). Expired records are invisible at once and removed by a
// background sweep every Options.SweepInterval, at most Options.SweepLimit
// of each kind per sweep.
//
// # Queues
//
// Messages of every queue are stored in one bucket under one sequence, so
// that sends append to one place; "queues" lists the queue names.
// Deleting a message stores a tombstone (its sequence number) in "acks",
// appended too, where deleting the message in place would rewrite a page
// of its own; every 1024 deletes (and at Open and after each sweep) a
// purge removes the acknowledged messages with their tombstones in bulk,
// freeing whole pages as messages mostly go oldest first. Visibility
// timeouts, receipts and receive counts are kept in memory, with a small
// header per message (no body) and a heap by visible time loaded at Open,
// so a receive costs O(log n) per message plus one read transaction for
// the bodies. After a restart every undeleted message is visible again
// once its delay is over, with a receive count starting again at 0:
// at-least-once delivery. Receivers block on a notification or a timer,
// never polling. Limits follow SQS: queue names of 1 to 80 letters,
// digits, '-' or '_'; bodies of 1 byte to 256 KiB; delays up to
// webhook.MaxQueueDelay; visibility up to 12 h. DeleteMessage and
// ChangeVisibility with a stale receipt are no-ops.
//
// # Measured and left out
//
// One file per port (or a queues file beside the rest), with a committer
// each: their fsyncs do not overlap on the disks measured, each commit
// still pays its two, and local mode ran slower. bbolt's array freelist
// (allocating the lowest free pages, for more sequential writes) and a
// large InitialMmapSize (no remaps): no measurable difference.
package bolt
