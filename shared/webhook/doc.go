// Package webhook is the domain of PhoneShield Webhooks: the types every
// other package speaks (Event, Endpoint, Delivery, Attempt, Plan, DeadLetter),
// the error kinds that are mapped to HTTP statuses and Lambda outcomes once,
// at the edge, and the ports (EndpointStore, Idempotency, DeliveryLog, Queue,
// DeadLetters) that adapters implement. It imports only the standard library.
//
// Every adapter of a port must pass the conformance suite for that port in
// package webhooktest; the embedded adapter (package bolt) and the AWS
// adapters (dynamo, sqs) run the same suite.
package webhook

// Version is the product version sent in the User-Agent header
// ("PhoneShield-Webhooks/<Version>").
const Version = "0.1.0"

// UserAgent is the User-Agent of every webhook request.
const UserAgent = "PhoneShield-Webhooks/" + Version
