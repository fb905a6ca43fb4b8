package filter

import (
	"encoding/json"
	"strings"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Limits that keep compilation and evaluation bounded.
const (
	MaxDepth  = 16       // nesting of and/or/not, the root counting 1
	MaxNodes  = 256      // and, or, not and conditions
	MaxString = 256      // bytes of a string or word
	MaxList   = 100      // elements of an in/not in list
	MaxSize   = 64 << 10 // bytes of a filter, text or JSON
)

// Filter is a compiled, validated filter. It is immutable and safe for
// concurrent use; compile it once per configuration change and evaluate it
// for every event. A nil *Filter matches every event.
type Filter struct {
	root *node
	e    expr
	text string
	json []byte
}

// Error is a filter that does not compile. For the JSON form Path is the
// faulty node's path ("and[1].or[0].field", "" for the root) and Offset is
// -1; for the text form Path is "line:column" (1-based, columns counted in
// characters) and Offset the byte offset.
type Error struct {
	Path   string
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "filter: " + e.Msg
	}
	return "filter: " + e.Path + ": " + e.Msg
}

// Parse compiles the text form of a filter given as input (saved or
// tried), its numbers checked as parseNumber says. (A stored filter is
// JSON, read by FromStoredJSON, even one holding the text form.)
func Parse(text string) (*Filter, error) {
	n, err := parseText(text, true)
	if err != nil {
		return nil, err
	}
	f, err := compile(n, text)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// FromJSON compiles the JSON tree form of a filter given as input (saved
// or tried). A JSON string holds the text form (errors then locate the
// fault in that text).
func FromJSON(raw []byte) (*Filter, error) { return fromJSON(raw, true) }

// FromStoredJSON compiles a stored filter (an endpoint's, as saved):
// leniently, so one saved before a rule on input came keeps working as it
// did (see parseNumber).
func FromStoredJSON(raw []byte) (*Filter, error) { return fromJSON(raw, false) }

func fromJSON(raw []byte, strict bool) (*Filter, error) {
	n, err := decodeJSON(raw, strict)
	if err != nil {
		return nil, err
	}
	src := ""
	if n.loc != nil && n.loc.text {
		_ = json.Unmarshal(raw, &src) // the text, for error positions
	}
	n = collapse(n)
	f, err := compile(n, src)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// JSON returns the canonical JSON tree form. FromJSON(f.JSON()) is f.
func (f *Filter) JSON() json.RawMessage {
	return append(json.RawMessage(nil), f.json...)
}

// MarshalJSON implements json.Marshaler with the canonical JSON form.
func (f *Filter) MarshalJSON() ([]byte, error) { return f.JSON(), nil }

// UnmarshalJSON implements json.Unmarshaler: it compiles either form, as
// FromJSON does.
func (f *Filter) UnmarshalJSON(raw []byte) error {
	g, err := FromJSON(raw)
	if err != nil {
		return err
	}
	*f = *g
	return nil
}

// String returns the canonical text form. Parse(f.String()) is f.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

// Equal reports whether f and g are the same filter.
func (f *Filter) Equal(g *Filter) bool {
	if f == nil || g == nil {
		return f == g
	}
	return f.root.equal(g.root)
}

// Eval reports whether the prepared event matches. When it doesn't, why
// names the part that failed, with the value seen, e.g.
// `duration_seconds > 120 (was 95)`. A nil filter matches everything.
func (f *Filter) Eval(in *Input) (ok bool, why string) {
	if f == nil || f.e.eval(in) {
		return true, ""
	}
	return false, explain(f.e, in)
}

// Trace is the detailed outcome of Match, for showing a filter at work:
// every condition with its outcome and the value it saw.
type Trace struct {
	Why   string `json:"why,omitempty"` // as from Eval
	Steps []Step `json:"steps"`
}

// Step is one condition's outcome.
type Step struct {
	Path    string `json:"path"` // in the canonical JSON form, e.g. "and[2].or[0]"
	Cond    string `json:"cond"` // canonical text
	Matched bool   `json:"matched"`
	Value   string `json:"value"` // what the condition saw: a JSON value, "absent", "not found"
}

// Match evaluates the filter on one event and traces every condition
// (none are skipped). Use Prepare and Eval when many filters see the same
// event.
func (f *Filter) Match(ev *webhook.Event) (bool, Trace) {
	if f == nil {
		return true, Trace{}
	}
	in := Prepare(ev)
	var t Trace
	ok := trace(f.e, in, &t)
	if !ok {
		t.Why = explain(f.e, in)
	}
	return ok, t
}

func trace(e expr, in *Input, t *Trace) bool {
	switch e := e.(type) {
	case andExpr:
		ok := true
		for _, k := range e {
			ok = trace(k, in, t) && ok
		}
		return ok
	case orExpr:
		ok := false
		for _, k := range e {
			ok = trace(k, in, t) || ok
		}
		return ok
	case notExpr:
		return !trace(e.e, in, t)
	case *condExpr:
		ok := e.eval(in)
		t.Steps = append(t.Steps, Step{Path: e.path, Cond: e.text, Matched: ok, Value: e.got(in)})
		return ok
	}
	return false
}

// explain says why e, which evaluated false, did: the first failing
// operand of an and, every operand of an or, what a not negated.
func explain(e expr, in *Input) string {
	var b strings.Builder
	explainTo(&b, e, in)
	return truncate(b.String(), 1024)
}

func explainTo(b *strings.Builder, e expr, in *Input) {
	switch e := e.(type) {
	case andExpr:
		for _, k := range e {
			if !k.eval(in) {
				explainTo(b, k, in)
				return
			}
		}
	case orExpr:
		b.WriteString("none of: ")
		for i, k := range e {
			if i > 0 {
				b.WriteString("; ")
			}
			explainTo(b, k, in)
		}
	case notExpr:
		b.WriteString("not: ")
		describeTrue(b, e.e, in)
	case *condExpr:
		writeOutcome(b, e, in, " (")
	}
}

// describeTrue says what made e, which evaluated true, true (for not).
func describeTrue(b *strings.Builder, e expr, in *Input) {
	switch e := e.(type) {
	case andExpr:
		b.WriteString("all of: ")
		for i, k := range e {
			if i > 0 {
				b.WriteString("; ")
			}
			describeTrue(b, k, in)
		}
	case orExpr:
		for _, k := range e {
			if k.eval(in) {
				describeTrue(b, k, in)
				return
			}
		}
	case notExpr:
		explainTo(b, e.e, in)
	case *condExpr:
		writeOutcome(b, e, in, " matched (")
	}
}

// writeOutcome writes the condition, then open, then what the field was.
func writeOutcome(b *strings.Builder, e *condExpr, in *Input, open string) {
	b.WriteString(e.text)
	b.WriteString(open)
	v := e.got(in)
	if v != "absent" && v != "not found" && v != "found" {
		b.WriteString("was ")
	}
	b.WriteString(v)
	b.WriteByte(')')
}
