// Package putevents serves EventBridge's PutEvents wire protocol (AWS JSON
// 1.1: POST with X-Amz-Target: AWSEvents.PutEvents) so that local mode
// accepts events from `aws events put-events --endpoint-url ...` and the
// AWS SDKs unchanged. Requests are not authenticated (local mode binds to
// loopback); SigV4 headers are accepted and ignored.
//
// Unlike EventBridge, which accepts any well-formed entry and routes it by
// rule, local mode validates each entry against the event catalog at once
// and reports a failed entry with an ErrorMessage naming the field: there is
// no rule to silently not match. Accepted entries are handed to the Sink
// durably before the response is written.
package putevents

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// Limits: EventBridge's, except that an entry may take up to its 256 KiB
// less QueueRoom, and its event, encoded as the pipeline stores and queues
// it (JSON, whose escapes — \u003c for <, \u2028, ... — can make it far
// bigger than the entry), at most MaxEncodedSize: room is kept for what
// the pipeline adds (the delivery task, the outcomes each retry carries),
// so that every accepted event can be queued (webhook.MaxMessageSize). On
// AWS, EventBridge accepts up to 256 KiB as sent and the filter
// dead-letters an event too big to queue.
const (
	MaxEntries     = 10
	QueueRoom      = 8 << 10
	MaxEntrySize   = 256<<10 - QueueRoom
	MaxEncodedSize = webhook.MaxMessageSize - 4<<10
	MaxBody        = 1 << 20
)

// Sink stores accepted events durably (local mode's event queue).
type Sink interface {
	Accept(ctx context.Context, evs []Accepted) error
}

// Accepted is an accepted event and its JSON encoding, as EventBridge
// hands it to a target: encoded once, by the handler, which checks its
// size (MaxEncodedSize), for the Sink to store as is.
type Accepted struct {
	Event events.EventBridgeEvent
	JSON  []byte
}

// Handler serves PutEvents.
type Handler struct {
	Sink    Sink
	Account string // default 000000000000
	Region  string // default local
	Now     func() time.Time
	Logger  *slog.Logger
}

type request struct {
	Entries []entry `json:"Entries"`
}

type entry struct {
	Source       string          `json:"Source"`
	DetailType   string          `json:"DetailType"`
	Detail       string          `json:"Detail"`
	EventBusName string          `json:"EventBusName"`
	Resources    []string        `json:"Resources"`
	Time         json.RawMessage `json:"Time"` // epoch seconds (JSON 1.1 timestamp)
	TraceHeader  string          `json:"TraceHeader"`
}

// ResultEntry is one entry of the response.
type ResultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type response struct {
	FailedEntryCount int           `json:"FailedEntryCount"`
	Entries          []ResultEntry `json:"Entries"`
}

// Target is the X-Amz-Target of PutEvents.
const Target = "AWSEvents.PutEvents"

// IsPutEvents reports whether r is an EventBridge API call (any target).
func IsPutEvents(r *http.Request) bool { return r.Header.Get("X-Amz-Target") != "" }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		awsError(w, http.StatusMethodNotAllowed, "ValidationException", "PutEvents must be a POST")
		return
	}
	if t := r.Header.Get("X-Amz-Target"); t != Target {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("local mode serves only %s, not %q", Target, t))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		awsError(w, http.StatusRequestEntityTooLarge, "ValidationException", fmt.Sprintf("request body exceeds %d bytes", MaxBody))
		return
	}
	if err != nil { // the client went away, or sent a broken body
		awsError(w, http.StatusBadRequest, "SerializationException", "reading the request body: "+err.Error())
		return
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		awsError(w, http.StatusBadRequest, "SerializationException", "malformed PutEvents body: "+err.Error())
		return
	}
	if n := len(req.Entries); n < 1 || n > MaxEntries {
		awsError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("Entries: must hold 1 to %d entries, got %d", MaxEntries, n))
		return
	}
	resp := response{Entries: make([]ResultEntry, len(req.Entries))}
	var (
		accepted []Accepted
		index    []int
	)
	for i, e := range req.Entries {
		ev, err := h.toEvent(e)
		if err != nil {
			code := "InvalidArgument"
			if errors.Is(err, errMalformedDetail) {
				code = "MalformedDetail" // EventBridge's code for a Detail that is not JSON
			}
			resp.Entries[i] = ResultEntry{ErrorCode: code, ErrorMessage: fmt.Sprintf("Entries[%d].%v", i, err)}
			resp.FailedEntryCount++
			continue
		}
		accepted = append(accepted, ev)
		index = append(index, i)
	}
	if len(accepted) > 0 {
		if err := h.Sink.Accept(r.Context(), accepted); err != nil {
			h.logger().Error("accepting events failed", "error", err.Error(), "count", len(accepted))
			for _, i := range index {
				resp.Entries[i] = ResultEntry{ErrorCode: "InternalFailure", ErrorMessage: "could not store the event; retry"}
				resp.FailedEntryCount++
			}
		} else {
			for k, i := range index {
				resp.Entries[i] = ResultEntry{EventID: accepted[k].Event.ID}
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

// maxEventTime is 10000-01-01T00:00:00Z in Unix seconds.
const maxEventTime = 253402300800

// errMalformedDetail is an entry's Detail that is not JSON at all.
var errMalformedDetail = &webhook.Error{Kind: webhook.KindInvalid, Field: "Detail", Message: "not valid JSON"}

// toEvent validates one entry and builds the event EventBridge would hand
// to the filter Lambda. Errors name the entry's field.
func (h *Handler) toEvent(e entry) (Accepted, error) {
	var zero Accepted
	size := len(e.Source) + len(e.DetailType) + len(e.Detail)
	for _, r := range e.Resources {
		size += len(r)
	}
	if size > MaxEntrySize {
		return zero, webhook.Invalid("Detail", "entry is %d bytes; local mode's limit is %d (EventBridge's 256 KiB less %d for delivery metadata)", size, MaxEntrySize, QueueRoom)
	}
	if e.Source != webhook.Source {
		return zero, webhook.Invalid("Source", "must be %q, got %q", webhook.Source, e.Source)
	}
	at := h.now().UTC()
	if len(e.Time) > 0 && string(e.Time) != "null" {
		var secs float64
		// Up to the end of year 9999, the last an RFC 3339 timestamp (the
		// event's "time", the envelope's "timestamp") can hold; past
		// about 2262 the nanoseconds of the old conversion overflowed.
		if err := json.Unmarshal(e.Time, &secs); err != nil || !(secs >= 0 && secs < maxEventTime) {
			return zero, webhook.Invalid("Time", "must be a timestamp in epoch seconds, from 1970 to the end of 9999")
		}
		whole, frac := math.Modf(secs)
		at = time.Unix(int64(whole), int64(frac*1e9)).UTC()
	}
	id := newUUID()
	if _, err := catalog.Parse(e.DetailType, []byte(e.Detail), id, at); err != nil {
		if !json.Valid([]byte(e.Detail)) { // scanned again only to pick the code
			return zero, errMalformedDetail
		}
		// Parse names fields as "detail-type" and "detail.data.x"; say
		// which PutEvents field that is.
		return zero, fmt.Errorf("%s: %w", entryField(webhook.FieldOf(err)), err)
	}
	ev := events.EventBridgeEvent{
		Version: "0", ID: id, DetailType: e.DetailType, Source: e.Source,
		AccountID: h.account(), Time: at, Region: h.region(),
		Resources: nonNil(e.Resources), Detail: json.RawMessage(e.Detail),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return zero, webhook.Invalid("Detail", "%v", err)
	}
	if len(b) > MaxEncodedSize {
		return zero, webhook.Invalid("Detail", "the event is %d bytes encoded as JSON (escapes such as \\u003c for < included); local mode's limit is %d", len(b), MaxEncodedSize)
	}
	return Accepted{Event: ev, JSON: b}, nil
}

func entryField(f string) string {
	if f == "detail-type" {
		return "DetailType"
	}
	return "Detail"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) account() string {
	if h.Account != "" {
		return h.Account
	}
	return "000000000000"
}

func (h *Handler) region() string {
	if h.Region != "" {
		return h.Region
	}
	return "local"
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
