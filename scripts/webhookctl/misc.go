package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	catalog "github.com/phoneshield/webhooks/events"
	"github.com/phoneshield/webhooks/shared/apiclient"
)

func cmdEventTypes(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("event-types")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var page apiclient.List[apiclient.EventType]
	raw, err := a.call(ctx, http.MethodGet, "/v1/event-types", nil, &page)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	w := a.table()
	fmt.Fprintln(w, "NAME\tGROUP\tON PLAN\tDESCRIPTION")
	for _, t := range page.Data {
		on := "no"
		if t.Available {
			on = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, t.Group, on, cell(t.Description, 80))
	}
	return w.Flush()
}

func cmdPlan(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("plan")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var p apiclient.Plan
	raw, err := a.call(ctx, http.MethodGet, "/v1/plan", nil, &p)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	types := "all"
	if n := len(p.EventTypes); n > 0 && n < len(catalog.Types()) {
		types = strings.Join(p.EventTypes, ", ")
	}
	payload := "full"
	if p.CorePayloadOnly {
		payload = "core call fields only"
	}
	a.fields("plan", p.Name,
		"endpoints", fmt.Sprintf("%d of %d used", p.EndpointsUsed, p.MaxEndpoints),
		"requests/min", strconv.Itoa(p.RequestsPerMinute)+" per endpoint",
		"event types", types,
		"payload", payload,
		"custom filters", yesNo(p.CustomFilters))
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// newEventID returns a fresh event id, so a resent sample is not dropped
// as a duplicate of the last one.
func newEventID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func cmdSend(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("events send")
	detailArg := fs.String("detail", "", "the event's detail: a JSON object, @file or - (default: the catalog's sample, with a fresh event_id)")
	eventID := fs.String("event-id", "", "set the detail's event_id (`ID`)")
	source := fs.String("source", "phoneshield", "the event's Source")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	typ := pos[0]
	var detail map[string]json.RawMessage
	if *detailArg == "" {
		sample, err := catalog.Sample(typ)
		if err != nil {
			return usagef("events send: %v (see webhookctl event-types)", strings.TrimPrefix(err.Error(), "event_type: "))
		}
		_ = json.Unmarshal([]byte(sample.Detail), &detail)
		detail["event_id"], _ = json.Marshal(newEventID())
	} else {
		raw, err := a.jsonObject("--detail", *detailArg, true)
		if err != nil {
			return err
		}
		_ = json.Unmarshal(raw, &detail)
	}
	if *eventID != "" {
		detail["event_id"], _ = json.Marshal(*eventID)
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	entry := apiclient.PutEventsEntry{Source: *source, DetailType: typ, Detail: string(b)}

	var res apiclient.PutEventsResult
	if a.useAWS() {
		if res, err = a.putEventsAWS(ctx, []apiclient.PutEventsEntry{entry}); err != nil {
			return err
		}
	} else {
		c, err := a.api(ctx)
		if err != nil {
			return err
		}
		if res, _, err = c.PutEvents(ctx, []apiclient.PutEventsEntry{entry}); err != nil {
			return err
		}
	}
	if res.FailedEntryCount > 0 || len(res.Entries) != 1 {
		if len(res.Entries) == 1 {
			e := res.Entries[0]
			return fmt.Errorf("%s", strings.TrimPrefix(e.ErrorMessage, "Entries[0]."))
		}
		return fmt.Errorf("PutEvents: the entry was not accepted")
	}
	var id string
	_ = json.Unmarshal(detail["event_id"], &id)
	if a.g.JSON {
		return a.printValue(res)
	}
	a.fields("sent", typ, "event id", dash(id), "eventbridge id", dash(res.Entries[0].EventID))
	return nil
}

func cmdFilterTest(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("filters test")
	filter := fs.String("filter", "", "the filter: a JSON tree, @file or -")
	filterText := fs.String("filter-text", "", "the filter in its text form")
	eventType := fs.String("event-type", "", "the event `TYPE` to test against (with the catalog's sample or --detail)")
	detail := fs.String("detail", "", "the event's detail: a JSON object, @file or -")
	deliveryID := fs.String("delivery-id", "", "test against the event of this logged delivery (`ID`)")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if (*filter == "") == (*filterText == "") {
		return usagef("filters test: give one of --filter and --filter-text")
	}
	if *deliveryID != "" && (*detail != "" || *eventType != "") {
		return usagef("filters test: --delivery-id conflicts with --detail and --event-type")
	}
	body := map[string]any{}
	if *filter != "" {
		raw, err := a.jsonObject("--filter", *filter, true)
		if err != nil {
			return err
		}
		body["filter"] = raw
	} else {
		body["filter_text"] = *filterText
	}
	if *eventType != "" {
		body["event_type"] = *eventType
	}
	if *detail != "" {
		raw, err := a.jsonObject("--detail", *detail, true)
		if err != nil {
			return err
		}
		body["detail"] = raw
	}
	if *deliveryID != "" {
		body["delivery_id"] = *deliveryID
	}
	var res apiclient.FilterTestResult
	raw, err := a.call(ctx, http.MethodPost, "/v1/filters/test", body, &res)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	kv := []string{"match", yesNo(res.Match)}
	if res.EventType != "" {
		kv = append(kv, "event", strings.TrimSpace(res.EventType+" "+res.EventID))
	}
	if res.FilterText != "" {
		kv = append(kv, "filter", res.FilterText)
	}
	var why any
	_ = json.Unmarshal(res.Why, &why)
	var lines []any
	switch w := why.(type) {
	case nil:
	case string:
		if w != "" {
			kv = append(kv, "why", w)
		}
	case []any:
		lines = w
	default:
		kv = append(kv, "why", string(res.Why))
	}
	a.fields(kv...)
	if len(lines) > 0 {
		fmt.Fprintln(a.stdout, "why:")
		for _, x := range lines {
			if s, ok := x.(string); ok {
				fmt.Fprintf(a.stdout, "  %s\n", oneLine(s))
			} else {
				b, _ := json.Marshal(x)
				fmt.Fprintf(a.stdout, "  %s\n", b)
			}
		}
	}
	return nil
}
