// Package webhooktest holds the conformance suites of the ports of package
// webhook, one per port, that every adapter runs from its own tests — the
// embedded one (package bolt) and the AWS ones against moto:
//
//	func TestEndpoints(t *testing.T) {
//		webhooktest.TestEndpointStore(t, func(t *testing.T) webhook.EndpointStore {
//			return openStore(t) // release it with t.Cleanup
//		})
//	}
//
// Each suite runs one subtest per clause of the port's contract and calls
// the constructor once per subtest. The constructor may hand out one shared
// store: every subtest uses ids, keys and queue names of its own (random,
// from UniqueID and QueueName) and checks listings only on the records it
// wrote. Subtests run one after another, never in parallel.
//
// What the suites take the contracts to mean, where the doc comments leave
// room:
//
//   - Times round-trip to the nanosecond (compared with time.Equal; the
//     zone may change). Raw JSON (Endpoint.Filter, Event.Data) round-trips
//     byte for byte. A nil slice or map and an empty one are equal, but a
//     pointer to 0 (RetrySettings.MaxRetries) is not nil.
//   - Stores hand out copies: changing a value passed in or returned does
//     not change what is stored.
//   - Idempotency: a lease that ran out but was not taken over is still the
//     key's current lease, so Finish and Release with it succeed. Finish
//     and Release with a lease the store never issued return ErrConflict.
//   - DeliveryLog: attempts are returned ordered by generation, then
//     attempt number (webhook.Attempt.Compare), however they were appended; a listing may end with an empty page, but a page
//     with a next cursor is never empty.
//   - Queue: DeleteMessage with a stale receipt (the message was received
//     again since) leaves the message queued. SQS documents that such a
//     delete "might not" remove the message; an adapter that cannot promise
//     more may skip the subtest with -skip 'DeleteWithStaleReceiptIsNoop'.
//   - Invalid input (a queue delay over webhook.MaxQueueDelay, a body over
//     256 KiB, attempt 0) is a webhook.KindInvalid error.
//
// Timing: leases that must run out last 200 ms, queue visibility timeouts
// and delays 1 s; every timing check allows 1–2 s of slack, and the slowest
// suite (TestQueue) takes about 10 s.
//
// The constructors (NewEndpoint, NewDelivery, NewAttempt, NewDeadLetter,
// NewEvent, …) return realistic values with every field set, and Diff and
// CheckEqual compare them field by field; other packages' tests may use
// them too, and the hostile receivers RawServer and DripBody.
package webhooktest
