package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/phoneshield/webhooks/shared/apiclient"
)

// listFlag is a repeatable flag; each value may also be comma-separated
// when split is true.
type listFlag struct {
	vals  []string
	split bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }
func (l *listFlag) Set(v string) error {
	if !l.split {
		l.vals = append(l.vals, v)
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.vals = append(l.vals, p)
		}
	}
	return nil
}

// endpointFlags are the fields of create and update.
type endpointFlags struct {
	from        string
	url         string
	description string
	status      string
	eventTypes  listFlag
	headers     listFlag
	noHeaders   bool
	maxRetries  int
	retryDelays string
	filter      string
	filterText  string
	clearFilter bool
	rateLimit   int
	version     int64
}

func addEndpointFlags(fs *flag.FlagSet, update bool) *endpointFlags {
	f := &endpointFlags{eventTypes: listFlag{split: true}}
	fs.StringVar(&f.from, "from", "", "read the fields from a JSON `FILE` (the API's body; - for stdin); flags override it")
	fs.StringVar(&f.url, "url", "", "the endpoint's `URL` (https://)")
	fs.StringVar(&f.description, "description", "", "a description")
	fs.Var(&f.eventTypes, "event-type", "an event `TYPE`, group.* or * (repeatable, or comma-separated)")
	fs.Var(&f.eventTypes, "event-types", "`TYPES`, comma-separated (same as --event-type)")
	fs.StringVar(&f.status, "status", "", "active or inactive")
	fs.Var(&f.headers, "header", "a custom header `Name: value` (repeatable; replaces all custom headers)")
	fs.IntVar(&f.maxRetries, "max-retries", 0, "retries after the first attempt, 0..5")
	fs.StringVar(&f.retryDelays, "retry-delays", "", "delay before each retry: `LIST` of seconds or durations (10,60 or 10s,1m)")
	fs.StringVar(&f.filter, "filter", "", "custom filter: a JSON tree, or @file (- for stdin)")
	fs.StringVar(&f.filterText, "filter-text", "", "custom filter in its text form")
	fs.IntVar(&f.rateLimit, "rate-limit", 0, "deliveries per minute (up to the plan's)")
	if update {
		fs.BoolVar(&f.noHeaders, "no-headers", false, "remove every custom header")
		fs.BoolVar(&f.clearFilter, "clear-filter", false, "remove the custom filter")
		fs.Int64Var(&f.version, "version", 0, "apply only if the endpoint is still at this `VERSION` (else exit 4)")
	}
	return f
}

// body builds the request body: --from's fields, overridden by the flags
// given.
func (f *endpointFlags) body(a *app, fs *flag.FlagSet) (map[string]any, error) {
	body := map[string]any{}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.from != "" {
		raw, err := a.jsonObject("--from", f.from, false)
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		for k, v := range m {
			body[k] = v
		}
	}
	if set["url"] {
		body["url"] = f.url
	}
	if set["description"] {
		body["description"] = f.description
	}
	if set["event-type"] || set["event-types"] {
		if len(f.eventTypes.vals) == 0 {
			return nil, usagef("--event-type: must not be empty")
		}
		body["event_types"] = f.eventTypes.vals
	}
	if set["status"] {
		body["status"] = f.status
	}
	if set["header"] {
		h := map[string]string{}
		for _, kv := range f.headers.vals {
			i := strings.IndexAny(kv, ":=")
			if i <= 0 {
				return nil, usagef("--header: want \"Name: value\", got %q", kv)
			}
			h[strings.TrimSpace(kv[:i])] = strings.TrimSpace(kv[i+1:])
		}
		body["headers"] = h
	}
	if f.noHeaders {
		if set["header"] {
			return nil, usagef("--no-headers: conflicts with --header")
		}
		body["headers"] = map[string]string{}
	}
	if set["max-retries"] || set["retry-delays"] {
		r := map[string]any{}
		if set["retry-delays"] {
			ds, err := parseDelays(f.retryDelays)
			if err != nil {
				return nil, err
			}
			r["delays_seconds"] = ds
			r["max_retries"] = len(ds)
		}
		if set["max-retries"] {
			r["max_retries"] = f.maxRetries
		}
		body["retry"] = r
	}
	if set["filter"] {
		raw, err := a.jsonObject("--filter", f.filter, true)
		if err != nil {
			return nil, err
		}
		body["filter"] = raw
	}
	if set["filter-text"] {
		body["filter_text"] = f.filterText
	}
	if f.clearFilter {
		if set["filter"] || set["filter-text"] {
			return nil, usagef("--clear-filter: conflicts with --filter and --filter-text")
		}
		body["filter"] = nil
	}
	if set["rate-limit"] {
		body["rate_limit_per_minute"] = f.rateLimit
	}
	if set["version"] {
		body["version"] = f.version
	}
	return body, nil
}

func parseDelays(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
			continue
		}
		d, err := time.ParseDuration(p)
		if err != nil || d%time.Second != 0 {
			return nil, usagef("--retry-delays: %q is neither whole seconds nor a duration like 90s or 5m", p)
		}
		out = append(out, int(d/time.Second))
	}
	if len(out) == 0 {
		return nil, usagef("--retry-delays: empty")
	}
	return out, nil
}

func cmdCreate(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks create")
	ef := addEndpointFlags(fs, false)
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	body, err := ef.body(a, fs)
	if err != nil {
		return err
	}
	var ep apiclient.Endpoint
	raw, err := a.call(ctx, http.MethodPost, "/v1/webhooks", body, &ep)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "webhookctl: warning: store the secret now, somewhere safe: it is not shown again (rotate-secret issues a new one)")
	if a.g.JSON {
		return a.printJSON(raw, true)
	}
	a.showEndpoint(&ep, "secret", ep.Secret)
	return nil
}

func cmdList(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks list")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var page apiclient.List[apiclient.Endpoint]
	raw, err := a.call(ctx, http.MethodGet, "/v1/webhooks", nil, &page)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	if len(page.Data) == 0 {
		fmt.Fprintln(a.stdout, "no webhooks")
		return nil
	}
	w := a.table()
	fmt.Fprintln(w, "ID\tSTATUS\tURL\tEVENT TYPES\tDESCRIPTION")
	for _, ep := range page.Data {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ep.ID, ep.Status, cell(ep.URL, 60), cell(strings.Join(ep.EventTypes, ","), 40), cell(ep.Description, 40))
	}
	return w.Flush()
}

// oneEndpoint runs a command that takes an endpoint id and shows the
// endpoint the API answers with.
func oneEndpoint(ctx context.Context, a *app, args []string, name, method, suffix string) error {
	fs := a.flagSet(name)
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return a.endpointCall(ctx, method, "/v1/webhooks/"+apiclient.PathID(pos[0])+suffix, nil)
}

// endpointCall makes a call answered with an endpoint, and shows it.
func (a *app) endpointCall(ctx context.Context, method, path string, body any) error {
	var ep apiclient.Endpoint
	raw, err := a.call(ctx, method, path, body, &ep)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	a.showEndpoint(&ep)
	return nil
}

func cmdGet(ctx context.Context, a *app, args []string) error {
	return oneEndpoint(ctx, a, args, "webhooks get", http.MethodGet, "")
}

func cmdEnable(ctx context.Context, a *app, args []string) error {
	return oneEndpoint(ctx, a, args, "webhooks enable", http.MethodPost, "/enable")
}

func cmdDisable(ctx context.Context, a *app, args []string) error {
	return oneEndpoint(ctx, a, args, "webhooks disable", http.MethodPost, "/disable")
}

func cmdUpdate(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks update")
	ef := addEndpointFlags(fs, true)
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	body, err := ef.body(a, fs)
	if err != nil {
		return err
	}
	if len(body) == 0 || (len(body) == 1 && body["version"] != nil) {
		return &usageError{msg: "webhooks update: nothing to change (give at least one field flag)", usage: "webhookctl webhooks update ID [flags]"}
	}
	return a.endpointCall(ctx, http.MethodPatch, "/v1/webhooks/"+apiclient.PathID(pos[0]), body)
}

func cmdDelete(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks delete")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if _, err := a.call(ctx, http.MethodDelete, "/v1/webhooks/"+apiclient.PathID(pos[0]), nil, nil); err != nil {
		return err
	}
	if a.g.JSON {
		return a.printValue(map[string]any{"id": pos[0], "deleted": true})
	}
	fmt.Fprintf(a.stdout, "deleted %s\n", pos[0])
	return nil
}

func cmdRotate(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks rotate-secret")
	overlap := fs.Int("overlap-hours", 24, "hours the previous secret keeps signing too (0: stop at once)")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *overlap < 0 {
		return usagef("--overlap-hours: must not be negative")
	}
	var res apiclient.RotateResult
	raw, err := a.call(ctx, http.MethodPost, "/v1/webhooks/"+apiclient.PathID(pos[0])+"/rotate-secret", map[string]any{"overlap_hours": *overlap}, &res)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "webhookctl: warning: store the new secret now, somewhere safe: it is not shown again")
	if a.g.JSON {
		return a.printJSON(raw, true)
	}
	a.fields("id", pos[0], "secret", res.Secret, "previous secret expires", fmtTime(res.PreviousSecretExpires))
	return nil
}

func cmdTest(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks test")
	eventType := fs.String("event-type", "", "the event `TYPE` to send (default: the server's choice)")
	detail := fs.String("detail", "", "the event's detail: a JSON object, @file or - (default: the catalog's sample)")
	showBody := fs.Bool("body", false, "print the request body too")
	pos, err := a.parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	if len(pos) == 2 {
		if *eventType != "" && *eventType != pos[1] {
			return usagef("webhooks test: the event type is given twice (%s, %s)", pos[1], *eventType)
		}
		*eventType = pos[1]
	}
	body := map[string]any{}
	if *eventType != "" {
		body["event_type"] = *eventType
	}
	if *detail != "" {
		if *eventType == "" {
			return usagef("webhooks test: --detail needs --event-type (the server chooses a type only for its sample)")
		}
		raw, err := a.jsonObject("--detail", *detail, true)
		if err != nil {
			return err
		}
		body["detail"] = raw
	}
	var res apiclient.TestResult
	raw, err := a.call(ctx, http.MethodPost, "/v1/webhooks/"+apiclient.PathID(pos[0])+"/test", body, &res)
	if err != nil {
		return err
	}
	if a.g.JSON {
		if err := a.printJSON(raw, false); err != nil {
			return err
		}
	} else {
		status := "-"
		if res.StatusCode != 0 {
			status = fmt.Sprintf("%d %s", res.StatusCode, http.StatusText(res.StatusCode))
		}
		a.fields("event", res.EventType+" "+res.EventID,
			"status", status,
			"latency", fmtLatency(time.Duration(res.LatencyMS*float64(time.Millisecond))),
			"error", dash(res.Error),
			"response", dash(res.Response),
			"url", dash(res.Request.URL))
		if len(res.Request.Headers) > 0 {
			fmt.Fprintln(a.stdout, "request headers:")
			w := a.table()
			for _, k := range sortedKeys(res.Request.Headers) {
				fmt.Fprintf(w, "  %s:\t%s\n", k, oneLine(res.Request.Headers[k]))
			}
			w.Flush()
		}
		if *showBody && res.Request.Body != "" {
			fmt.Fprintf(a.stdout, "request body:\n%s\n", res.Request.Body)
		}
	}
	if res.Error != "" || res.StatusCode < 200 || res.StatusCode > 299 {
		why := res.Error
		if why == "" {
			why = fmt.Sprintf("HTTP %d", res.StatusCode)
		}
		return fmt.Errorf("test delivery failed: %s", why)
	}
	return nil
}

func cmdDeliveries(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks deliveries")
	status := fs.String("status", "", "only deliveries in this `STATUS` (pending, delivered, dead_lettered)")
	eventType := fs.String("event-type", "", "only this event `TYPE`")
	pf := addPageFlags(fs)
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	q, err := pf.query("status", *status, "event_type", *eventType)
	if err != nil {
		return err
	}
	c, err := a.api(ctx)
	if err != nil {
		return err
	}
	ds, next, err := listPages[apiclient.Delivery](ctx, a, c, "/v1/webhooks/"+apiclient.PathID(pos[0])+"/deliveries", q, pf.all)
	if err != nil || a.g.JSON {
		return err
	}
	if len(ds) == 0 {
		fmt.Fprintln(a.stdout, "no deliveries")
	} else {
		w := a.table()
		fmt.Fprintln(w, "ID\tEVENT TYPE\tEVENT ID\tSTATUS\tATTEMPTS\tLAST\tLATENCY\tCREATED")
		for _, d := range ds {
			last, lat := "-", "-"
			if n := len(d.Attempts); n > 0 {
				last, lat = attemptResult(d.Attempts[n-1]), fmtLatency(d.Attempts[n-1].Latency)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.EventType, d.EventID, d.Status, len(d.Attempts), cell(last, 40), lat, fmtTime(d.CreatedAt))
		}
		w.Flush()
	}
	a.nextHint(next)
	return nil
}

func attemptResult(at apiclient.Attempt) string {
	switch {
	case at.StatusCode != 0 && at.Error != "":
		return fmt.Sprintf("%d: %s", at.StatusCode, at.Error)
	case at.StatusCode != 0:
		return strconv.Itoa(at.StatusCode)
	}
	return dash(at.Error)
}

func cmdDelivery(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("webhooks delivery")
	showBody := fs.Bool("body", false, "print the request body too")
	pos, err := a.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	var d apiclient.Delivery
	raw, err := a.call(ctx, http.MethodGet, "/v1/webhooks/"+apiclient.PathID(pos[0])+"/deliveries/"+apiclient.PathID(pos[1]), nil, &d)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	a.fields("id", d.ID, "endpoint", d.EndpointID, "event id", d.EventID, "event type", d.EventType,
		"status", d.Status, "created", fmtTime(d.CreatedAt), "updated", fmtTime(d.UpdatedAt), "url", dash(d.Request.URL))
	if len(d.Request.Headers) > 0 {
		fmt.Fprintln(a.stdout, "request headers:")
		w := a.table()
		for _, k := range sortedKeys(d.Request.Headers) {
			fmt.Fprintf(w, "  %s:\t%s\n", k, oneLine(d.Request.Headers[k]))
		}
		w.Flush()
	}
	a.attempts(d.Attempts)
	if *showBody {
		fmt.Fprintf(a.stdout, "request body:\n%s\n", d.Request.Body)
	}
	return nil
}

func (a *app) attempts(ats []apiclient.Attempt) {
	if len(ats) == 0 {
		fmt.Fprintln(a.stdout, "attempts: none")
		return
	}
	fmt.Fprintln(a.stdout, "attempts:")
	w := a.table()
	fmt.Fprintln(w, "  #\tAT\tSTATUS\tLATENCY\tERROR\tRESPONSE")
	for _, at := range ats {
		code := "-"
		if at.StatusCode != 0 {
			code = strconv.Itoa(at.StatusCode)
		}
		n := strconv.Itoa(at.N)
		if at.Generation > 0 {
			n += " (redrive " + strconv.Itoa(at.Generation) + ")"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", n, fmtTime(at.At), code, fmtLatency(at.Latency), cell(at.Error, 60), cell(at.Response, 40))
	}
	w.Flush()
}

func (a *app) showEndpoint(ep *apiclient.Endpoint, extra ...string) {
	retry := "default (5 retries: 10s, 1m, 5m, 30m, 2h)"
	if ep.Retry.MaxRetries != nil || len(ep.Retry.DelaysSeconds) > 0 {
		n := len(ep.Retry.DelaysSeconds)
		if ep.Retry.MaxRetries != nil {
			n = *ep.Retry.MaxRetries
		}
		retry = fmt.Sprintf("%d retries", n)
		if len(ep.Retry.DelaysSeconds) > 0 {
			ds := make([]string, len(ep.Retry.DelaysSeconds))
			for i, s := range ep.Retry.DelaysSeconds {
				ds[i] = (time.Duration(s) * time.Second).String()
			}
			retry += ": " + strings.Join(ds, ", ")
		} else if n > 0 {
			retry += " (default delays)"
		}
	}
	filter := "-"
	switch {
	case ep.FilterText != "":
		filter = ep.FilterText
	case len(ep.Filter) > 0 && string(ep.Filter) != "null":
		filter = string(ep.Filter)
	}
	rate := "plan default"
	if ep.RateLimitPerMinute > 0 {
		rate = fmt.Sprintf("%d/min", ep.RateLimitPerMinute)
	}
	headers := "-"
	if len(ep.Headers) > 0 {
		var hs []string
		for _, k := range sortedKeys(ep.Headers) {
			hs = append(hs, k+": "+ep.Headers[k])
		}
		headers = strings.Join(hs, "; ")
	}
	a.fields(append([]string{"id", ep.ID, "url", ep.URL, "description", dash(ep.Description), "status", ep.Status,
		"event types", strings.Join(ep.EventTypes, ", "), "headers", headers, "retry", retry,
		"filter", filter, "rate limit", rate, "version", strconv.FormatInt(ep.Version, 10),
		"created", fmtTime(ep.CreatedAt), "updated", fmtTime(ep.UpdatedAt)}, extra...)...)
}

// pageFlags are the flags of listings.
type pageFlags struct {
	since, until, cursor string
	limit                int
	all                  bool
}

func addPageFlags(fs *flag.FlagSet) *pageFlags {
	p := &pageFlags{}
	fs.StringVar(&p.since, "since", "", "only from this `TIME` on: RFC 3339, or a duration ago (90m, 24h)")
	fs.StringVar(&p.until, "until", "", "only up to this `TIME`: RFC 3339, or a duration ago")
	fs.IntVar(&p.limit, "limit", 0, "page size, 1..1000 (default: the server's)")
	fs.StringVar(&p.cursor, "cursor", "", "continue from a previous page's next cursor")
	fs.BoolVar(&p.all, "all", false, "follow the cursor through every page")
	return p
}

// query builds the listing's query from the page flags and filter
// name/value pairs (empty values left out).
func (p *pageFlags) query(kv ...string) (url.Values, error) {
	since, err := parseTime("--since", p.since)
	if err != nil {
		return nil, err
	}
	until, err := parseTime("--until", p.until)
	if err != nil {
		return nil, err
	}
	if p.limit < 0 || p.limit > 1000 {
		return nil, usagef("--limit: must be between 1 and 1000, got %d", p.limit)
	}
	limit := ""
	if p.limit > 0 {
		limit = strconv.Itoa(p.limit)
	}
	kv = append(kv, "since", since, "until", until, "limit", limit, "cursor", p.cursor)
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q, nil
}

// parseTime reads an RFC 3339 time or a duration ago, and returns RFC 3339.
func parseTime(flagName, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	return "", usagef("%s: want an RFC 3339 time (2025-04-30T15:00:00Z) or a duration ago (90m), got %q", flagName, s)
}

// listPages gets one page, or every page with all, of a listing. With
// --json it prints the answer: the page as it came, or every page's data
// in one {"data":[...],"next_cursor":""}.
func listPages[T any](ctx context.Context, a *app, c *apiclient.Client, path string, q url.Values, all bool) ([]T, string, error) {
	var (
		items []T
		raws  []json.RawMessage
		next  string
	)
	for pages := 0; ; pages++ {
		if next != "" {
			q.Set("cursor", next)
		}
		qs := ""
		if len(q) > 0 {
			qs = "?" + q.Encode()
		}
		var page struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor string            `json:"next_cursor"`
		}
		raw, err := c.Do(ctx, http.MethodGet, path+qs, nil, &page)
		if err != nil {
			return nil, "", err
		}
		for _, r := range page.Data {
			var it T
			if err := json.Unmarshal(r, &it); err != nil {
				return nil, "", fmt.Errorf("GET %s: unexpected item: %v", path, err)
			}
			items = append(items, it)
		}
		raws = append(raws, page.Data...)
		if !all {
			if a.g.JSON {
				return items, page.NextCursor, a.printJSON(raw, false)
			}
			return items, page.NextCursor, nil
		}
		if page.NextCursor == "" || page.NextCursor == next || pages > 100000 {
			break
		}
		next = page.NextCursor
	}
	if a.g.JSON {
		if raws == nil {
			raws = []json.RawMessage{}
		}
		return items, "", a.printValue(map[string]any{"data": raws, "next_cursor": ""})
	}
	return items, "", nil
}

// nextHint tells, on stderr, how to get the next page.
func (a *app) nextHint(next string) {
	if next != "" && !a.g.JSON {
		fmt.Fprintf(a.stderr, "more: --cursor %s (or --all)\n", next)
	}
}
