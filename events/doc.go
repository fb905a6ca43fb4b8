// Package events is the catalog of PhoneShield event types (DESIGN §3): the
// 19 types in five groups (call, transcription, voicemail, system, user),
// the fields each type's data must and may carry, validation of incoming
// events, subscription checks, and one realistic sample event per type.
//
// # Events in
//
// Producers put events on the bus with EventBridge PutEvents: Source
// "phoneshield", DetailType the event type, Detail
//
//	{"event_id": "evt_...", "environment": "production", "data": {...}}
//
// Parse validates a detail-type and detail against the catalog and returns
// a webhook.Event. event_id falls back to the EventBridge event id and
// environment defaults to production. data must carry the type's Required
// fields with the declared JSON kind (string, number, integer, boolean,
// array, object) and format (E.164 phone number, RFC 3339 timestamp, URL,
// email, enumerated values); declared Optional fields are checked when
// present; fields the catalog doesn't declare are allowed and delivered
// as received. Event.Data is detail.data byte for byte. Every error is a
// KindInvalid *webhook.Error whose Field is a JSON path such as
// "detail.data.duration_seconds".
//
// # Subscriptions
//
// An endpoint's event_types entries are exact types ("call.completed"),
// group wildcards ("call.*") or "*"; ValidSubscription checks one entry.
//
// # Samples
//
// samples/<type>.json holds one sample per type, embedded in the package
// (Sample, Samples). Each file is a PutEvents --entries file, usable as is:
//
//	aws events put-events --entries file://events/samples/call.completed.json
//
// It is a JSON array of one entry, {"Source": "phoneshield", "DetailType":
// "<type>", "Detail": "<the detail as a JSON string>"}, without EventBusName
// (callers add it: the CLI's default bus is not the stack's). Every sample
// passes Parse; the call.completed sample lasts over two minutes and
// mentions pricing, as in the seed's custom-filter example.
package events
