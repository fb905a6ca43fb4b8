// Package bolt is the embedded adapter: every port of package webhook
// (EndpointStore, Idempotency, DeliveryLog, Queue, DeadLetters) kept in one
// bbolt file and a write-ahead log beside it, for local mode. It passes the conformance suites of package
// webhooktest.
//
// # Durability and group commit
//
// Every write is durable before the call returns, in one of two places:
// a write-ahead log (wal.go: segment files beside the bbolt file, in
// <file>.wal/) or the bbolt B+tree. What every delivery writes goes to the
// log: queue sends and deletes (the queues live there, see Queues) and,
// through the journal (journal.go), idempotency key outcomes and delivery
// records (Settle writes a delivery's two in one group). A log append is a copy into a buffer; one writer goroutine
// writes each group of appends with one write and one fdatasync, and the
// next group fills while it syncs. Everything else (endpoints, dead
// letters, sweeps) is a B+tree write, funnelled to one committer goroutine
// that commits all the writes waiting (up to Options.MaxBatchSize) in one
// transaction, so concurrent writers share each fsync while a lone writer
// pays only its own commit. A B+tree write that fails (storage trouble,
// never a domain outcome such as a conflict) is retried alone so that it
// cannot fail its neighbours. The freelist is not synced (bbolt's
// NoFreelistSync, as etcd does): fewer pages a commit; Open rebuilds it by
// scanning the file. bbolt's own db.Batch was measured too: its fixed
// linger (MaxBatchDelay) halves a lone writer's throughput and does no
// better under load.
//
// The journal's writes reach the B+tree later, in the committer's next
// transaction, at least every 100 ms: thousands at a time, where each used
// to share a transaction with a few dozen. A delivery record's JSON is not
// copied: the B+tree keeps a reference to its log record, and a log
// segment retired while delivery records in it are still referred to is
// kept, moved to <file>.records/ (records.go). A delivery costs the
// B+tree about 0.3 pages, where it cost 0.8 with its record in the tree,
// three with a transaction per few dozen writes, and six before records
// were laid out for appending (BenchmarkPipeline reports pages, commits
// and log groups per delivery). Until then they are read from memory; listings first wait
// for them to be applied. After a crash, Open replays the log: queues are
// rebuilt, and journaled writes not yet in the B+tree are applied again.
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
// number (the value: a reference to the record in the log, see
// records.go), so new records are appended rather than inserted at random;
// "ids" maps its id to that number, deliveries_by_endpoint (endpoint,
// newest CreatedAt first, id → number and expiry) serves listings and
// deliveries_expiry (expiry, id) the sweep. Dead letters by id with an
// index by At. Buckets written in key order (records, expiry indexes)
// fill their pages (FillPercent 0.95) instead of splitting them half full.
// A Bloom filter of the keys of "ids", in memory (idfilter.go), spares the
// read transaction of a lookup of an id never written, which most are. Times keep nanoseconds. Cursors are opaque (base64 of an
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
// of each kind per sweep. A sweep that fails is tried again at the next
// tick; until one succeeds its error is in Stats().Trouble, which local
// mode logs.
//
// # Queues
//
// Messages of every queue are records in the log, under one sequence;
// deleting a message appends a delete record. Visibility timeouts,
// receipts, receive counts and where each body is are kept in memory,
// with a small header per message and a heap by visible time rebuilt by
// Open from the log, so a receive costs O(log n) per message plus a read
// per body. Log segments are retired, oldest first, once no live message's
// body (and no journaled write not yet applied) is in them; the few live
// messages of an old segment (a long delay, a failing endpoint's retries)
// are appended again and the segment retired, unless they hold more than a
// quarter of it (a backlog is not copied over and over). A retired segment
// holding delivery records still referred to is kept (see above). After a restart
// every undeleted message is visible again once its delay is over, with a
// receive count starting again at 0: at-least-once delivery. Receivers
// block on a notification or a timer, never polling. Limits follow SQS:
// queue names of 1 to 80 letters, digits, '-' or '_'; bodies of 1 byte to
// 256 KiB; delays up to webhook.MaxQueueDelay; visibility up to 12 h.
// DeleteMessage and ChangeVisibility with a stale receipt are no-ops.
// Beyond the port, SendEach (one message to each of several queues: the
// filter's fan-out) and DeleteMessages (a handled batch) make many sends
// or deletes one append and one wait.
// Files of earlier versions, whose messages were in bbolt buckets, have
// them moved to the log by Open.
//
// # Measured and left out
//
// One bbolt file per port (or a queues file beside the rest), with a
// committer each: their fsyncs do not overlap on the disks measured, each
// commit still pays its two, and local mode ran slower. Larger bbolt pages
// (16 and 64 KiB): no difference. Pebble (an LSM store with its own group
// commit) as a whole replacement: about as much CPU per synced write as
// bbolt, most of it in memtable flushes and compactions of bodies that
// live for milliseconds. bbolt's array freelist
// (allocating the lowest free pages, for more sequential writes) and a
// large InitialMmapSize (no remaps): no measurable difference.
package bolt
