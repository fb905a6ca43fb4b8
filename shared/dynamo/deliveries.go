package dynamo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aws/smithy-go"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Delivery log attributes (on the delivery's item in the Deliveries table).
const (
	attrEndpointID = "endpoint_id" // S, GSI partition key
	attrCreatedAt  = "created_at"  // N, Unix ns, GSI sort key
	attrEventID    = "event_id"    // S
	attrEventType  = "event_type"  // S
	attrStatus     = "status"      // S
	attrUpdatedAt  = "updated_at"  // N, Unix ns
	attrLogExpires = "log_expires" // N, Unix ns; absent: never
	attrRequest    = "request"     // S (JSON) or B (gzipped JSON)
	attemptPrefix  = "att_"        // att_<n> (att_<generation>_<n> after a redrive): S, the attempt as JSON
)

// Request size limits. An item holds at most 400 KB; a round of six
// attempts with their 4 KiB response excerpts takes under 100 KB at
// usual sizes (up to about 150 KB when JSON escapes blow the excerpts up),
// but every redrive from the DLQ adds a round: an attempt that no longer
// fits is stored without its excerpt (see AppendAttempt).
const (
	plainRequestMax  = 8 << 10   // larger requests are gzipped
	storedRequestMax = 200 << 10 // gzipped requests are cut to fit
)

// logRecord is one AppendAttempt's worth of log fields, encoded.
type logRecord struct {
	d       webhook.Delivery
	name    string               // the attempt's attribute
	attempt string               // JSON
	request types.AttributeValue // S or B
}

func encodeLog(d *webhook.Delivery, a webhook.Attempt) (*logRecord, error) {
	att, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode attempt %d: %w", a.N, err)
	}
	req, err := encodeRequest(d.Request)
	if err != nil {
		return nil, err
	}
	name := attemptPrefix + strconv.Itoa(a.N)
	if a.Generation != 0 {
		name = attemptPrefix + strconv.Itoa(a.Generation) + "_" + strconv.Itoa(a.N)
	}
	return &logRecord{d: *d, name: name, attempt: string(att), request: req}, nil
}

// encodeRequest stores a small request as JSON text and a large one
// gzipped. A request that would not fit an item even gzipped (bodies reach
// 1 MB) keeps the start of its body, cut on a UTF-8 boundary and marked.
func encodeRequest(r webhook.Request) (types.AttributeValue, error) {
	for {
		j, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		if len(j) <= plainRequestMax {
			return avS(string(j)), nil
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(j)
		zw.Close()
		if buf.Len() <= storedRequestMax {
			return avB(buf.Bytes()), nil
		}
		keep := int(float64(len(r.Body)) * float64(storedRequestMax) / float64(buf.Len()) * 0.9)
		for keep > 0 && !utf8.RuneStart(r.Body[keep]) {
			keep--
		}
		r.Body = r.Body[:keep] + fmt.Sprintf("…[cut by the delivery log: %d of %d bytes kept]", keep, len(r.Body))
	}
}

func decodeRequest(av types.AttributeValue) (webhook.Request, error) {
	var (
		r webhook.Request
		j []byte
	)
	switch v := av.(type) {
	case nil:
		return r, nil
	case *types.AttributeValueMemberS:
		j = []byte(v.Value)
	case *types.AttributeValueMemberB:
		zr, err := gzip.NewReader(bytes.NewReader(v.Value))
		if err != nil {
			return r, fmt.Errorf("decode request: %w", err)
		}
		if j, err = io.ReadAll(zr); err != nil {
			return r, fmt.Errorf("decode request: %w", err)
		}
	default:
		return r, fmt.Errorf("decode request: unexpected %T", av)
	}
	if err := json.Unmarshal(j, &r); err != nil {
		return r, fmt.Errorf("decode request: %w", err)
	}
	return r, nil
}

// apply adds the log writes to e: the attempt replaces any attempt of
// the same number and generation; status, updated_at and log_expires are set; the first-call
// fields are set only if absent — unless old is given, when the record
// starts afresh: they are overwritten and old's other attempts removed.
// The TTL attribute is the caller's.
func (r *logRecord) apply(e *expr, old item) {
	att := r.name
	e.val(":att", avS(r.attempt)).
		val(":status", avS(string(r.d.Status))).
		val(":updated_at", avN(nanos(r.d.UpdatedAt))).
		val(":endpoint_id", avS(r.d.EndpointID)).
		val(":event_id", avS(r.d.EventID)).
		val(":event_type", avS(r.d.EventType)).
		val(":created_at", avN(nanos(r.d.CreatedAt))).
		val(":request", r.request)
	e.set = append(e.set, "#"+att+" = :att", "#status = :status", "#updated_at = :updated_at")
	for _, f := range []string{attrEndpointID, attrEventID, attrEventType, attrCreatedAt, attrRequest} {
		if old != nil {
			e.set = append(e.set, "#"+f+" = :"+f)
		} else {
			e.set = append(e.set, "#"+f+" = if_not_exists(#"+f+", :"+f+")")
		}
	}
	for name := range old {
		if strings.HasPrefix(name, attemptPrefix) && name != att {
			e.remove = append(e.remove, "#"+name)
		}
	}
	if r.d.ExpiresAt.IsZero() {
		e.remove = append(e.remove, "#log_expires")
	} else {
		e.set = append(e.set, "#log_expires = :lexp")
		e.val(":lexp", avN(nanos(r.d.ExpiresAt)))
	}
}

// AppendAttempt implements webhook.DeliveryLog: one UpdateItem, no read.
// A record past its ExpiresAt but still stored counts as absent: the call
// starts it afresh (a second write, judged from the item the first
// returned). The item's TTL is the log's expiry, or the key's if the item
// holds a key that lives longer (again a second write, rare: the
// Deliverer writes the log through Settle).
//
// An attempt that would take the item past DynamoDB's 400 KB (redrives
// add rounds of attempts to one record) is stored without its response
// excerpt, which says so (ExcerptDropped), rather than not at all.
func (s *Store) AppendAttempt(ctx context.Context, d *webhook.Delivery, a webhook.Attempt) error {
	err := s.appendAttempt(ctx, d, a)
	if itemTooLarge(err) && a.Response != ExcerptDropped {
		a.Response = ExcerptDropped
		err = s.appendAttempt(ctx, d, a)
	}
	return err
}

// ExcerptDropped stands for a response excerpt left out of the delivery
// log because the delivery's item had no room for it.
const ExcerptDropped = "[excerpt dropped: this delivery's log record reached DynamoDB's 400 KB item limit]"

// itemTooLarge reports DynamoDB's refusal of a write that would take an
// item past 400 KB.
func itemTooLarge(err error) bool {
	ae, ok := errors.AsType[smithy.APIError](err)
	return ok && ae.ErrorCode() == "ValidationException" && strings.Contains(ae.ErrorMessage(), "size")
}

func (s *Store) appendAttempt(ctx context.Context, d *webhook.Delivery, a webhook.Attempt) error {
	if err := webhook.CheckAppend(d, a); err != nil {
		return fmt.Errorf("dynamo: append attempt to %s: %w", d.ID, err)
	}
	rec, err := encodeLog(d, a)
	if err != nil {
		return fmt.Errorf("dynamo: append attempt %d to %s: %w", a.N, d.ID, err)
	}
	lexpS := epochSeconds(d.ExpiresAt)
	for range maxRounds {
		now := s.now()
		e := newExpr().val(":now", avN(now.UnixNano())).val(":lexp_s", avN(lexpS))
		rec.apply(e, nil)
		e.cond = append(e.cond, "attribute_not_exists(#log_expires) OR #log_expires > :now")
		if d.ExpiresAt.IsZero() {
			e.remove = append(e.remove, "#expires_at")
		} else {
			e.set = append(e.set, "#expires_at = :lexp_s")
			e.cond = append(e.cond, "attribute_not_exists(#key_expires) OR #key_expires <= :lexp")
		}
		_, err := s.api.UpdateItem(ctx, e.updateInput(s.tables.Deliveries, key(d.ID)))
		if err == nil {
			return nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return transient(err, "append attempt %d to %s", a.N, d.ID)
		}
		if old == nil {
			continue
		}
		lexp, hasLexp := getN(old, attrLogExpires)
		expired := hasLexp && lexp <= now.UnixNano()
		e = newExpr()
		if expired {
			rec.apply(e, old)
		} else {
			rec.apply(e, nil)
		}
		if d.ExpiresAt.IsZero() {
			e.remove = append(e.remove, "#expires_at")
		} else {
			exp := lexpS
			if kexp, ok := getN(old, attrKeyExpires); ok {
				exp = max(exp, epochSeconds(fromNanos(kexp)))
			}
			e.set = append(e.set, "#expires_at = :exp_s")
			e.val(":exp_s", avN(exp))
		}
		e.cond = append(e.cond, "attribute_exists(#id)", e.sameAs(old, attrLogExpires), e.sameAs(old, attrKeyExpires))
		_, err = s.api.UpdateItem(ctx, e.updateInput(s.tables.Deliveries, key(d.ID)))
		if err == nil {
			return nil
		}
		if _, ok := conditionFailed(err); !ok {
			return transient(err, "append attempt %d to %s", a.N, d.ID)
		}
	}
	return fmt.Errorf("dynamo: append attempt %d to %s: contended: %w", a.N, d.ID, webhook.ErrConflict)
}

// decodeDelivery returns the delivery an item holds, or nil if it holds
// none (a key-only item) or the record expired.
func decodeDelivery(it item, now time.Time) (*webhook.Delivery, error) {
	if !has(it, attrEndpointID) {
		return nil, nil
	}
	d := &webhook.Delivery{
		ID:         getS(it, HashKey),
		EndpointID: getS(it, attrEndpointID),
		EventID:    getS(it, attrEventID),
		EventType:  getS(it, attrEventType),
		Status:     webhook.DeliveryStatus(getS(it, attrStatus)),
	}
	if v, ok := getN(it, attrLogExpires); ok {
		if v <= now.UnixNano() {
			return nil, nil
		}
		d.ExpiresAt = fromNanos(v)
	}
	if v, ok := getN(it, attrCreatedAt); ok {
		d.CreatedAt = fromNanos(v)
	}
	if v, ok := getN(it, attrUpdatedAt); ok {
		d.UpdatedAt = fromNanos(v)
	}
	var err error
	if d.Request, err = decodeRequest(it[attrRequest]); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	for name := range it {
		if !strings.HasPrefix(name, attemptPrefix) {
			continue
		}
		var a webhook.Attempt
		if err := json.Unmarshal([]byte(getS(it, name)), &a); err != nil {
			return nil, fmt.Errorf("delivery %s: decode %s: %w", d.ID, name, err)
		}
		d.Attempts = append(d.Attempts, a)
	}
	slices.SortFunc(d.Attempts, webhook.Attempt.Compare)
	return d, nil
}

// GetDelivery implements webhook.DeliveryLog: one strongly consistent
// GetItem.
func (s *Store) GetDelivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	if id == "" {
		return nil, fmt.Errorf("dynamo: get delivery: %w", webhook.ErrNotFound)
	}
	it, err := s.getItem(ctx, s.tables.Deliveries, id)
	if err != nil {
		return nil, transient(err, "get delivery %s", id)
	}
	d, err := decodeDelivery(it, s.now())
	if err != nil {
		return nil, fmt.Errorf("dynamo: get delivery: %w", err)
	}
	if d == nil {
		return nil, fmt.Errorf("dynamo: get delivery %s: %w", id, webhook.ErrNotFound)
	}
	return d, nil
}

// Page limits.
const (
	defaultPage = 50
	maxPage     = 1000
)

// cursor is ListDeliveries' opaque cursor: the index key of the last
// record returned.
type cursor struct {
	ID        string `json:"i"`
	CreatedAt int64  `json:"c,string"`
}

func encodeCursor(k item) string {
	c := cursor{ID: getS(k, HashKey)}
	c.CreatedAt, _ = getN(k, attrCreatedAt)
	j, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(j)
}

func decodeCursor(s, endpointID string) (item, error) {
	var c cursor
	j, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(j, &c)
	}
	if err != nil || c.ID == "" {
		return nil, webhook.Invalid("cursor", "not a cursor returned by this listing")
	}
	return item{HashKey: avS(c.ID), attrEndpointID: avS(endpointID), attrCreatedAt: avN(c.CreatedAt)}, nil
}

// ListDeliveries implements webhook.DeliveryLog: a Query of the
// by_endpoint index, newest first, then a BatchGetItem of the page's
// records (the index holds keys only). Expired records are dropped after
// the read, and the Query repeated until the page is full or the index
// ends, so a page with a next cursor is never empty.
func (s *Store) ListDeliveries(ctx context.Context, endpointID string, p webhook.Page) ([]*webhook.Delivery, string, error) {
	limit := p.Limit
	switch {
	case limit <= 0:
		limit = defaultPage
	case limit > maxPage:
		limit = maxPage
	}
	var start item
	if p.Cursor != "" {
		var err error
		if start, err = decodeCursor(p.Cursor, endpointID); err != nil {
			return nil, "", fmt.Errorf("dynamo: list deliveries of %s: %w", endpointID, err)
		}
	}
	var ds []*webhook.Delivery
	for {
		out, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Deliveries),
			IndexName:                 aws.String(IndexByEndpoint),
			KeyConditionExpression:    aws.String("#endpoint_id = :ep"),
			ExpressionAttributeNames:  map[string]string{"#endpoint_id": attrEndpointID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ep": avS(endpointID)},
			ScanIndexForward:          aws.Bool(false),
			// Whole pages, the listing's size: asking only for what the
			// page lacks made one Query (and BatchGetItem) per expired
			// record once a page was nearly full, and expired records,
			// deleted by DynamoDB up to days late, gather at the end.
			Limit:             aws.Int32(int32(limit)),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, "", transient(err, "list deliveries of %s", endpointID)
		}
		ids := make([]string, len(out.Items))
		for i, it := range out.Items {
			ids[i] = getS(it, HashKey)
		}
		// The records are read as needed, about what the page lacks at a
		// time (a BatchGetItem's 100 at least), not all the index gave.
		for from := 0; from < len(ids); {
			to := min(len(ids), from+max(limit-len(ds), 100))
			items, err := s.batchGet(ctx, s.tables.Deliveries, ids[from:to])
			if err != nil {
				return nil, "", transient(err, "list deliveries of %s", endpointID)
			}
			now := s.now()
			for i := from; i < to; i++ {
				d, err := decodeDelivery(items[ids[i]], now)
				if err != nil {
					return nil, "", fmt.Errorf("dynamo: list deliveries of %s: %w", endpointID, err)
				}
				if d != nil && d.EndpointID == endpointID {
					ds = append(ds, d)
				}
				if len(ds) == limit {
					if i == len(ids)-1 && len(out.LastEvaluatedKey) == 0 {
						return ds, "", nil
					}
					// Resume after this index entry (the page may go on).
					return ds, encodeCursor(out.Items[i]), nil
				}
			}
			from = to
		}
		if len(out.LastEvaluatedKey) == 0 {
			return ds, "", nil
		}
		start = out.LastEvaluatedKey
	}
}

// batchGet reads items by id, 100 a call, retrying unprocessed keys.
func (s *Store) batchGet(ctx context.Context, table string, ids []string) (map[string]item, error) {
	got := make(map[string]item, len(ids))
	for chunk := range slices.Chunk(ids, 100) {
		keys := make([]item, len(chunk))
		for i, id := range chunk {
			keys[i] = key(id)
		}
		req := map[string]types.KeysAndAttributes{table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for try := 0; len(req) > 0; try++ {
			if try > 0 {
				if try > 8 {
					return nil, fmt.Errorf("batch get: %d keys still unprocessed", len(req[table].Keys))
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Duration(10<<try) * time.Millisecond):
				}
			}
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, err
			}
			for _, it := range out.Responses[table] {
				got[getS(it, HashKey)] = it
			}
			req = out.UnprocessedKeys
		}
	}
	return got, nil
}
