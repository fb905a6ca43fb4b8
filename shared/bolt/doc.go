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
// # Layout
//
// One bucket per kind of record plus index buckets: endpoints by id;
// idempotency keys by key with an expiry index; delivery logs by id with an
// index per endpoint (endpoint, newest CreatedAt first, id) for listing and
// an expiry index for the sweep; dead letters by id with an index by At;
// one bucket per queue. Records are JSON (raw JSON fields byte for byte);
// times keep nanoseconds. Cursors are opaque (base64 of an index key).
//
// # Expiry
//
// Idempotency keys expire Options.KeyTTL (default 7 days) after their last
// write, so a finished key is remembered 7 days after it finished; a
// delivery log record expires at its ExpiresAt (zero: never). Expired
// records are invisible at once and removed by a background sweep every
// Options.SweepInterval, at most Options.SweepLimit of each kind per sweep.
//
// # Queues
//
// Messages are stored in bolt; visibility timeouts, receipts and receive
// counts are kept in memory, with a small header per message (no body) and
// a heap by visible time loaded at Open, so a receive costs O(log n) per
// message plus one read transaction for the bodies. After a restart every
// undeleted message is visible again once its delay is over, with a
// receive count starting again at 0: at-least-once delivery. Receivers
// block on a notification or a timer, never polling. Limits follow SQS:
// queue names of 1 to 80 letters, digits, '-' or '_'; bodies of 1 byte to
// 256 KiB; delays up to webhook.MaxQueueDelay; visibility up to 12 h.
// DeleteMessage and ChangeVisibility with a stale receipt are no-ops.
package bolt
