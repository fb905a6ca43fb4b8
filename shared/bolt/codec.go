package bolt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/phoneshield/webhooks/shared/jsjson"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// appendFill is the FillPercent of buckets written in key order: their
// pages are filled before a new one is started, not split half full.
const appendFill = 0.95

// Idempotency keys and delivery ids share the bucket "ids", told apart by
// a last byte: a delivery's idempotency key is its id, so the two entries
// written as a delivery ends (its key done, its log record's id) are
// neighbours, in one page.
func keyID(key string) []byte     { return append([]byte(key), 'k') }
func deliveryID(id string) []byte { return append([]byte(id), 'd') }

// Times in keys are 8 big-endian bytes that sort like the times: Unix
// nanoseconds with the sign bit flipped. Times outside what UnixNano can
// express (before 1678, after 2262) are clamped.
var (
	minKeyTime = time.Unix(0, math.MinInt64)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

func nanos(t time.Time) int64 {
	switch {
	case t.Before(minKeyTime):
		return math.MinInt64
	case t.After(maxKeyTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(nanos(t))^(1<<63))
}

// invTimeKey sorts newest first.
func invTimeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, ^(uint64(nanos(t)) ^ (1 << 63)))
}

func keyTime(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// endpointPrefix is the prefix of an endpoint's keys in
// deliveries_by_endpoint: the id's length then the id, so that no
// endpoint's prefix is a prefix of another's.
func endpointPrefix(endpointID string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(endpointID)))
	return append(b, endpointID...)
}

// Cursors are the index key (less any fixed prefix) of the last item
// returned, base64url-encoded. They carry no other state.
func encodeCursor(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

func decodeCursor(c string) ([]byte, error) {
	k, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(k) < 8 {
		return nil, webhook.Invalid("cursor", "not a cursor returned by this listing")
	}
	return k, nil
}

// encodeDelivery appends d as JSON to prefix, as json.Marshal would
// (field names, omitempty, RFC 3339 times, sorted header names; strings
// may differ in escaping only), about four times faster: it runs on every
// delivery. Times json.Marshal refuses (years outside 0..9999) fall back
// to it.
func encodeDelivery(prefix []byte, d *webhook.Delivery) ([]byte, error) {
	ok := strictTime(d.CreatedAt) && strictTime(d.UpdatedAt) && strictTime(d.ExpiresAt)
	for _, a := range d.Attempts {
		ok = ok && strictTime(a.At)
	}
	if !ok {
		v, err := json.Marshal(d)
		return append(prefix, v...), err
	}
	size := 512 + len(prefix) + len(d.ID) + len(d.Request.URL) + len(d.Request.Body)
	for k, v := range d.Request.Headers {
		size += 8 + len(k) + len(v)
	}
	for _, a := range d.Attempts {
		size += 128 + len(a.Error) + len(a.Response)
	}
	b := append(make([]byte, 0, size+size/16), prefix...) // escapes: some room
	b = append(b, `{"id":`...)
	b = jsjson.AppendString(b, d.ID)
	b = append(b, `,"endpoint_id":`...)
	b = jsjson.AppendString(b, d.EndpointID)
	b = append(b, `,"event_id":`...)
	b = jsjson.AppendString(b, d.EventID)
	b = append(b, `,"event_type":`...)
	b = jsjson.AppendString(b, d.EventType)
	b = append(b, `,"status":`...)
	b = jsjson.AppendString(b, string(d.Status))
	b = append(b, `,"request":{"url":`...)
	b = jsjson.AppendString(b, d.Request.URL)
	b = append(b, `,"headers":`...)
	if d.Request.Headers == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(d.Request.Headers)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsjson.AppendString(b, k)
			b = append(b, ':')
			b = jsjson.AppendString(b, d.Request.Headers[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"body":`...)
	b = jsjson.AppendString(b, d.Request.Body)
	b = append(b, `},"attempts":`...)
	if d.Attempts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range d.Attempts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"attempt":`...)
			b = strconv.AppendInt(b, int64(a.N), 10)
			if a.Generation != 0 {
				b = append(b, `,"generation":`...)
				b = strconv.AppendInt(b, int64(a.Generation), 10)
			}
			b = append(b, `,"at":`...)
			b = appendTime(b, a.At)
			if a.StatusCode != 0 {
				b = append(b, `,"status_code":`...)
				b = strconv.AppendInt(b, int64(a.StatusCode), 10)
			}
			b = append(b, `,"latency_ns":`...)
			b = strconv.AppendInt(b, int64(a.Latency), 10)
			if a.Error != "" {
				b = append(b, `,"error":`...)
				b = jsjson.AppendString(b, a.Error)
			}
			if a.Response != "" {
				b = append(b, `,"response":`...)
				b = jsjson.AppendString(b, a.Response)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"created_at":`...)
	b = appendTime(b, d.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, d.UpdatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, d.ExpiresAt)
	return append(b, '}'), nil
}

// strictTime reports whether t formats as RFC 3339 as it is (what
// time.Time's MarshalJSON checks before formatting).
func strictTime(t time.Time) bool {
	_, off := t.Zone()
	y := t.Year()
	return y >= 0 && y <= 9999 && off%60 == 0 && off > -24*3600 && off < 24*3600
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
