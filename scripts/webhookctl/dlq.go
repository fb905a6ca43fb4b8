package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/phoneshield/webhooks/shared/apiclient"
)

func cmdDLQList(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("dlq list")
	endpoint := fs.String("endpoint", "", "only this endpoint's dead letters (`ID`)")
	eventType := fs.String("event-type", "", "only this event `TYPE`")
	pf := addPageFlags(fs)
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	q, err := pf.query("endpoint_id", *endpoint, "event_type", *eventType)
	if err != nil {
		return err
	}
	c, err := a.api(ctx)
	if err != nil {
		return err
	}
	dls, next, err := listPages[apiclient.DeadLetter](ctx, a, c, "/v1/dlq", q, pf.all)
	if err != nil || a.g.JSON {
		return err
	}
	if len(dls) == 0 {
		fmt.Fprintln(a.stdout, "no dead letters")
	} else {
		w := a.table()
		fmt.Fprintln(w, "ID\tENDPOINT\tEVENT TYPE\tEVENT ID\tATTEMPTS\tREASON\tAT")
		for _, dl := range dls {
			typ, id := "-", "-"
			if dl.Event != nil {
				typ, id = dl.Event.Type, dl.Event.ID
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dl.ID, dash(dl.EndpointID), typ, id, len(dl.Attempts), cell(dl.Reason, 50), fmtTime(dl.At))
		}
		w.Flush()
	}
	a.nextHint(next)
	return nil
}

func cmdDLQShow(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("dlq show")
	data := fs.Bool("data", false, "print the event's data too")
	pos, err := a.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var dl apiclient.DeadLetter
	raw, err := a.call(ctx, http.MethodGet, "/v1/dlq/"+apiclient.PathID(pos[0]), nil, &dl)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	kv := []string{"id", dl.ID, "endpoint", dash(dl.EndpointID), "reason", dl.Reason, "at", fmtTime(dl.At)}
	if dl.Event != nil {
		kv = append(kv, "event id", dl.Event.ID, "event type", dl.Event.Type, "event time", fmtTime(dl.Event.Time), "environment", dash(dl.Event.Environment))
	}
	if dl.Raw != "" {
		kv = append(kv, "raw input", cell(dl.Raw, 200))
	}
	a.fields(kv...)
	if dl.Event != nil || len(dl.Attempts) > 0 {
		a.attempts(dl.Attempts)
	}
	if *data && dl.Event != nil && len(dl.Event.Data) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, dl.Event.Data, "", "  ") == nil {
			fmt.Fprintf(a.stdout, "data:\n%s\n", buf.String())
		}
	}
	return nil
}

// selectFlags are the selector flags of redrive and purge.
type selectFlags struct {
	endpoint, eventType, since, until string
	all                               bool
	limit                             int
}

func addSelectFlags(fs *flag.FlagSet) *selectFlags {
	f := &selectFlags{}
	fs.StringVar(&f.endpoint, "endpoint", "", "the dead letters of this endpoint (`ID`)")
	fs.StringVar(&f.eventType, "event-type", "", "the dead letters of this event `TYPE`")
	fs.StringVar(&f.since, "since", "", "dead-lettered at or after this `TIME` (RFC 3339, or a duration ago)")
	fs.StringVar(&f.until, "until", "", "dead-lettered at or before this `TIME`")
	fs.BoolVar(&f.all, "all", false, "every dead letter")
	fs.IntVar(&f.limit, "limit", 100, "dead letters per API call (webhookctl calls until none remain)")
	return f
}

// selector builds the selection: an ID argument alone, or filters (at
// least one, --all counting as one).
func (f *selectFlags) selector(name string, pos []string) (apiclient.Selector, error) {
	sel := apiclient.Selector{EndpointID: f.endpoint, EventType: f.eventType, All: f.all, Limit: f.limit}
	for _, t := range []struct {
		flag, v string
		dst     **time.Time
	}{{"--since", f.since, &sel.Since}, {"--until", f.until, &sel.Until}} {
		s, err := parseTime(t.flag, t.v)
		if err != nil {
			return sel, err
		}
		if s != "" {
			at, _ := time.Parse(time.RFC3339Nano, s)
			*t.dst = &at
		}
	}
	filters := sel.EndpointID != "" || sel.EventType != "" || sel.Since != nil || sel.Until != nil || sel.All
	switch {
	case len(pos) == 1 && filters:
		return sel, usagef("%s: an ID excludes --endpoint, --event-type, --since, --until and --all", name)
	case len(pos) == 1:
		sel.ID, sel.Limit = pos[0], 0
	case !filters:
		return sel, usagef("%s: say which dead letters: an ID, --endpoint ID, --event-type T, --since/--until, or --all", name)
	}
	if f.limit < 1 {
		return sel, usagef("--limit: must be at least 1, got %d", f.limit)
	}
	return sel, nil
}

// bulkTotal is the sum of a loop of redrive or purge calls, in the API's
// shape.
type bulkTotal struct {
	Done      int      `json:"done"`
	Skipped   []string `json:"skipped"`
	Remaining int      `json:"remaining"`
	skipped   int
}

// bulk calls a bounded DLQ operation until nothing selected remains,
// showing progress on stderr. It stops early when a call does nothing, or
// once as many dead letters went through as were selected at the start:
// letters that fail again and come back must not keep it going forever.
func (a *app) bulk(ctx context.Context, path, verb string, sel apiclient.Selector) (bulkTotal, error) {
	total := bulkTotal{Skipped: []string{}}
	c, err := a.api(ctx)
	if err != nil {
		return total, err
	}
	seen := map[string]bool{}
	initial := -1
	prog := a.progress(verb)
	defer prog.stop()
	for {
		var r apiclient.BulkResult
		if _, err := c.Do(ctx, http.MethodPost, path, sel, &r); err != nil {
			prog.stop()
			if total.Done > 0 {
				fmt.Fprintf(a.stderr, "webhookctl: %d dead letters were %s before this error\n", total.Done, verb)
			}
			return total, err
		}
		if initial < 0 {
			initial = r.Done + r.Remaining
		}
		total.Done += r.Done
		total.Remaining = r.Remaining
		for _, s := range r.Skipped {
			if id := apiclient.SkippedID(s); !seen[id] {
				seen[id] = true
				total.Skipped = append(total.Skipped, s)
			}
		}
		total.skipped = max(total.skipped, len(total.Skipped), r.SkippedCount)
		if sel.ID != "" {
			return total, nil
		}
		extra := ""
		if total.skipped > 0 {
			extra = fmt.Sprintf("skipped %d", total.skipped)
		}
		prog.update(total.Done, max(initial, total.Done+r.Remaining), extra)
		if r.Remaining == 0 || r.Done == 0 || total.Done >= initial {
			return total, nil
		}
	}
}

func (a *app) bulkCommand(ctx context.Context, name, path, verb string, args []string, confirm bool) error {
	fs := a.flagSet(name)
	sf := addSelectFlags(fs)
	var yes *bool
	if confirm {
		yes = fs.Bool("yes", false, "confirm deleting more than one dead letter for good")
	}
	pos, err := a.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	sel, err := sf.selector(name, pos)
	if err != nil {
		return err
	}
	if confirm && sel.ID == "" && !*yes {
		return usagef("%s: deletes dead letters for good; add --yes to confirm", name)
	}
	total, err := a.bulk(ctx, path, verb, sel)
	if err != nil {
		return err
	}
	if a.g.JSON {
		if err := a.printValue(total); err != nil {
			return err
		}
	} else {
		if confirm {
			fmt.Fprintf(a.stdout, "%s %d, remaining %d\n", verb, total.Done, total.Remaining)
		} else {
			fmt.Fprintf(a.stdout, "%s %d, skipped %d, remaining %d\n", verb, total.Done, total.skipped, total.Remaining)
		}
		for _, s := range total.Skipped {
			fmt.Fprintf(a.stdout, "skipped %s\n", oneLine(s))
		}
	}
	switch {
	case sel.ID != "" && total.Done == 0 && len(total.Skipped) > 0:
		return fmt.Errorf("%s: not %s: %s", sel.ID, verb, strings.TrimPrefix(total.Skipped[0], sel.ID+": "))
	case total.Remaining > 0:
		return fmt.Errorf("%d dead letters remain (dead-lettered again meanwhile, or a call stopped early); run again", total.Remaining)
	case total.skipped > 0:
		fmt.Fprintf(a.stderr, "webhookctl: warning: %d dead letters were skipped and stay in the DLQ (see above)\n", total.skipped)
	}
	return nil
}

func cmdRedrive(ctx context.Context, a *app, args []string) error {
	return a.bulkCommand(ctx, "dlq redrive", "/v1/dlq/redrive", "redriven", args, false)
}

func cmdPurge(ctx context.Context, a *app, args []string) error {
	return a.bulkCommand(ctx, "dlq purge", "/v1/dlq/purge", "purged", args, true)
}

func cmdCounts(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("dlq counts")
	if _, err := a.parse(fs, args, 0, 0); err != nil {
		return err
	}
	var n apiclient.DLQCounts
	raw, err := a.call(ctx, http.MethodGet, "/v1/dlq/counts", nil, &n)
	if err != nil {
		return err
	}
	if a.g.JSON {
		return a.printJSON(raw, false)
	}
	fmt.Fprintf(a.stdout, "total: %d\n", n.Total)
	for _, group := range []struct {
		title string
		m     map[string]int
	}{{"ENDPOINT", n.ByEndpoint}, {"EVENT TYPE", n.ByEventType}} {
		if len(group.m) == 0 {
			continue
		}
		fmt.Fprintln(a.stdout)
		w := a.table()
		fmt.Fprintf(w, "%s\tCOUNT\n", group.title)
		for _, k := range sortedKeys(group.m) {
			fmt.Fprintf(w, "%s\t%d\n", dash(k), group.m[k])
		}
		w.Flush()
	}
	return nil
}

// progress reports a loop's progress on stderr: a redrawn bar when stderr
// is a terminal, else one plain counter line per step.
type progress struct {
	w     io.Writer
	tty   bool
	verb  string
	drawn bool
}

func (a *app) progress(verb string) *progress {
	return &progress{w: a.stderr, tty: isTerminal(a.stderr), verb: verb}
}

func (p *progress) update(done, total int, extra string) {
	if extra != "" {
		extra = ", " + extra
	}
	if !p.tty {
		fmt.Fprintf(p.w, "%s %d/%d%s\n", p.verb, done, total, extra)
		return
	}
	const width = 30
	fill := width
	if total > 0 {
		fill = min(width, done*width/total)
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s%s\x1b[K", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total, p.verb, extra)
	p.drawn = true
}

func (p *progress) stop() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}
