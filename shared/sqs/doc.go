// Package sqs holds the SQS adapters: Queue implements webhook.Queue over
// one SQS queue per name, and DeadLetters implements webhook.DeadLetters
// over the shared dead-letter queue. Both take the SQS client as the
// narrow API interface, so tests can decorate it; both pass the
// conformance suites of package webhooktest against moto.
//
// # Queues
//
// Queue name n is the SQS queue Options.Prefix+n, so IAM policies can be
// scoped to the prefix. The queues must exist (package provision creates
// them with the endpoint); a missing one is an error wrapping
// webhook.ErrNotFound. URLs are looked up once and cached.
//
// SendMessages sends batches of up to ten (SendMessageBatch), retries
// once the entries SQS failed through no fault of ours, and names in its
// error every message that was still not sent. Durations are rounded up
// to whole seconds, SQS's unit. The SDK never sends an int32 zero, so a
// zero delay, visibility or wait means the queue's default: queues are
// created with DelaySeconds and ReceiveMessageWaitTimeSeconds 0, and a
// receive with visibility 0 sets each message's visibility to 0 after
// receiving it.
//
// SQS documents that a delete with a stale receipt (the message was
// received again since) "might not" remove the message, and moto removes
// it: this adapter does not promise the no-op the port describes.
//
// Errors wrap the SDK's: a missing queue wraps webhook.ErrNotFound, input
// SQS rejects is webhook.KindInvalid, throttling and the rest are
// webhook.KindTransient (the SDK has already retried them).
//
// # Dead letters
//
// SQS is a queue, not a database; the dead-letter adapter makes do:
//
//   - PutDeadLetter is one SendMessage of the record as JSON, with the
//     message attributes id, endpoint_id and event_type for filtering by
//     other tools (console, CLI). A record over MaxRecordSize (under SQS's
//     256 KiB) is cut down — response and error excerpts first, then Raw,
//     then the event's data — and Reason says what was cut. Putting an ID
//     again sends another message; reads keep the latest put of each ID
//     and delete the others.
//   - Every read (list, get, delete) is a scan: it receives the queue's
//     messages ten at a time, each receive hiding what it returns for
//     Options.PeekVisibility, and then makes them visible again at once
//     (a "peek"). A scan reads at most Options.ScanLimit messages (1000 by
//     default); on a larger DLQ, listings and lookups see only that many.
//     That is fine at operations volumes; an index (e.g. in DynamoDB) would
//     be needed beyond.
//   - SQS keeps no order, so a listing sorts what one scan read by At,
//     then ID, and every page is a fresh scan. Paging is therefore
//     best-effort: dead letters put or deleted between pages can be missed
//     or shift, and two reads at the same time hide messages from each
//     other.
//   - Messages SQS itself moved to the DLQ (an endpoint queue's redrive
//     policy, after its maxReceiveCount) are not records: they read as
//     dead letters with the ID "sqs_" + their SQS message id, the body
//     (a delivery task) as Raw, and the task's endpoint and event when
//     the body has them.
package sqs
