package bolt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"time"

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
