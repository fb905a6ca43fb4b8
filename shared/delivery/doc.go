// Package delivery decides what happens to one queued delivery: it takes a
// Task (one event for one endpoint, at one attempt number), makes the HTTP
// attempt — rendered, signed, sent through the SSRF-guarded sender — logs
// it, and then finishes the delivery, schedules the next attempt, or
// dead-letters it. It is the code the delivery Lambda and local mode both
// run; the handler package only translates SQS events to and from it.
//
// Exactly-once per (event, endpoint) rests on the Idempotency port: the key
// is the delivery id (derived from endpoint and event ids) and a Task carries
// its attempt number, so a duplicate event or a duplicate queue message finds
// the key done or its attempt already made and is dropped, while a crash
// mid-attempt leaves a lease that expires and lets the same attempt be made
// again — our crashes never use up an attempt.
package delivery
