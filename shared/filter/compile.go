package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/phoneshield/webhooks/events"
)

// expr is a compiled node.
type expr interface {
	eval(in *Input) bool
}

type andExpr []expr
type orExpr []expr
type notExpr struct{ e expr }

func (a andExpr) eval(in *Input) bool {
	for _, e := range a {
		if !e.eval(in) {
			return false
		}
	}
	return true
}

func (o orExpr) eval(in *Input) bool {
	for _, e := range o {
		if e.eval(in) {
			return true
		}
	}
	return false
}

func (n notExpr) eval(in *Input) bool { return !n.e.eval(in) }

// condExpr is a compiled condition. test is the positive form of the
// operator (= for !=, in for not in, exists for not exists); neg flips it,
// so that "a != b" is exactly "not (a = b)", true when a is absent.
type condExpr struct {
	text string // canonical text, for explanations
	path string // JSON path of the node, for traces
	neg  bool
	test func(in *Input) bool
	got  func(in *Input) string // the field's value as the explanation shows it
}

func (c *condExpr) eval(in *Input) bool { return c.test(in) != c.neg }

// compiler validates a syntax tree and builds its evaluator.
type compiler struct {
	src string // the text form's source, for error positions; "" for JSON
}

// errAt makes an error about part ("field", "op", "value", "tz" or "" for
// the whole node) of n; idx ≥ 0 picks an element of a list value.
func (c *compiler) errAt(n *node, part string, idx int, msg string) *Error {
	l := n.loc
	if l == nil {
		return &Error{Offset: -1, Msg: msg}
	}
	if l.text {
		off := l.off
		switch part {
		case "op":
			off = l.opOff
		case "value":
			off = l.valOff
			if idx >= 0 && idx < len(l.elems) {
				off = l.elems[idx]
			}
		case "tz":
			off = l.tzOff
		}
		return textError(c.src, off, msg)
	}
	if l.short && part != "" {
		part = "event_type" // {"event_type": ...} has no field/op/value keys
	}
	if idx >= 0 {
		part = fmt.Sprintf("%s[%d]", part, idx)
	}
	return jsonErr(l.path, part, msg)
}

func compile(root *node, src string) (*Filter, *Error) {
	c := &compiler{src: src}
	if err := c.checkDepth(root, 1); err != nil {
		return nil, err
	}
	e, err := c.node(root, "")
	if err != nil {
		return nil, err
	}
	if err := c.checkZones(root); err != nil {
		return nil, err
	}
	f := &Filter{root: root, e: e, text: root.text(), json: root.jsonBytes()}
	// Both canonical forms must compile back: they have the input's size
	// limit too.
	if len(f.text) > MaxSize || len(f.json) > MaxSize {
		return nil, c.errAt(root, "", -1, fmt.Sprintf("filter too large: its canonical form is over %d bytes", MaxSize))
	}
	clearLoc(root)
	return f, nil
}

func (c *compiler) checkDepth(n *node, depth int) *Error {
	if depth > MaxDepth {
		return c.errAt(n, "", -1, fmt.Sprintf("nested deeper than %d", MaxDepth))
	}
	for _, k := range n.kids {
		if err := c.checkDepth(k, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// checkZones rejects a filter where some time conditions name a zone and
// others don't (and so are UTC): "time.hour >= 9 and time.hour < 17 tz
// "Europe/Paris"" reads as Paris hours but would test 9 UTC. Either every
// time condition names its zone or the filter names one for all.
func (c *compiler) checkZones(root *node) *Error {
	var implicit, explicit *node
	root.forEachCond(func(n *node) {
		if !isTimeField(n.field) {
			return
		}
		if n.tz == "" && implicit == nil {
			implicit = n
		} else if n.tz != "" && explicit == nil {
			explicit = n
		}
	})
	if implicit == nil || explicit == nil {
		return nil
	}
	return c.errAt(implicit, "", -1, fmt.Sprintf(
		"%s has no time zone while %s has %q: add tz to each time condition, or set one for the filter (tz %q; ...)",
		condText(implicit), explicit.field, explicit.tz, explicit.tz))
}

func clearLoc(n *node) {
	n.loc = nil
	for _, k := range n.kids {
		clearLoc(k)
	}
}

// node compiles n, whose canonical JSON path is path.
func (c *compiler) node(n *node, path string) (expr, *Error) {
	switch n.kind {
	case kAnd, kOr:
		name := "and"
		if n.kind == kOr {
			name = "or"
		}
		es := make([]expr, len(n.kids))
		for i, k := range n.kids {
			e, err := c.node(k, joinPath(path, fmt.Sprintf("%s[%d]", name, i)))
			if err != nil {
				return nil, err
			}
			es[i] = e
		}
		if n.kind == kAnd {
			return andExpr(es), nil
		}
		return orExpr(es), nil
	case kNot:
		e, err := c.node(n.kids[0], joinPath(path, "not"))
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	return c.cond(n, path)
}

func (c *compiler) cond(n *node, path string) (expr, *Error) {
	f, ok := lookupField(n.field)
	if !ok {
		msg := fmt.Sprintf("unknown field %q", n.field)
		if s := suggest(n.field); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return nil, c.errAt(n, "field", -1, msg)
	}
	if f.kind == fkMeta && !validMetaKey(n.field[len(metaPrefix):]) {
		return nil, c.errAt(n, "field", -1, fmt.Sprintf("bad metadata key %q: up to 4 dot-separated keys of letters, digits, _ and -", n.field[len(metaPrefix):]))
	}
	if !opAllowed(f, n.op) {
		return nil, c.errAt(n, "op", -1, fmt.Sprintf("operator %s is not defined for %s (%s); use %s", n.op, n.field, kindName(f), strings.Join(f.ops, ", ")))
	}
	ce := &condExpr{text: condText(n), path: path}
	var loc *time.Location
	if n.tz != "" {
		if f.kind != fkTime {
			return nil, c.errAt(n, "tz", -1, "tz applies to time.* conditions only")
		}
		var msg string
		if loc, msg = loadZone(n.tz); msg != "" {
			return nil, c.errAt(n, "tz", -1, msg)
		}
	} else if f.kind == fkTime {
		loc = time.UTC
	}
	op := n.op
	switch op {
	case opNe:
		op, ce.neg = opEq, true
	case opNotIn:
		op, ce.neg = opIn, true
	case opNotExists:
		op, ce.neg = opExists, true
	}
	// The operands, checked and converted by the field's kind.
	vals := n.list
	if op != opIn {
		vals = []value{n.val}
	}
	if op == opIn && len(vals) == 0 {
		return nil, c.errAt(n, "value", -1, "empty list")
	}
	idx := func(i int) int {
		if op == opIn {
			return i
		}
		return -1
	}
	if op == opExists {
		return c.exists(f, n, ce)
	}
	var err *Error
	switch f.kind {
	case fkEventType, fkPhone, fkRegion, fkAreaCode, fkEnum, fkString:
		err = c.stringCond(f, n, op, vals, idx, ce)
	case fkNumber, fkUrgency, fkTime:
		err = c.numberCond(f, n, op, vals, idx, ce, loc)
	case fkBool:
		if vals[0].kind != vBool {
			return nil, c.errAt(n, "value", -1, fmt.Sprintf("%s %s needs true or false, got %s", n.field, n.op, describe(vals[0])))
		}
		want, d := vals[0].b, f.data
		ce.test = func(in *Input) bool { b, ok := in.boolean(d); return ok && b == want }
		ce.got = func(in *Input) string { return in.gotData(d) }
	case fkTopics:
		err = c.topicsCond(n, op, vals, idx, ce)
	case fkText:
		err = c.textCond(f, n, vals[0], ce)
	case fkMeta:
		err = c.metaCond(n, op, vals, idx, ce)
	}
	if err != nil {
		return nil, err
	}
	return ce, nil
}

func kindName(f *fieldSpec) string {
	switch f.kind {
	case fkEventType:
		return "an event type"
	case fkPhone:
		return "an E.164 number"
	case fkRegion:
		return "a region code"
	case fkAreaCode:
		return "an area code"
	case fkEnum:
		return "one of " + strings.Join(f.enum, ", ")
	case fkString:
		return "a string"
	case fkNumber:
		return "a number"
	case fkBool:
		return "a boolean"
	case fkTopics:
		return "a list of topics"
	case fkUrgency:
		return "low < medium < high"
	case fkText:
		return "text"
	case fkTime:
		return "a time"
	}
	return "metadata"
}

// condText is the canonical text of one condition, zone included.
func condText(n *node) string {
	var b strings.Builder
	writeCond(&b, n, "")
	return b.String()
}

func (c *compiler) exists(f *fieldSpec, n *node, ce *condExpr) (expr, *Error) {
	d := f.data
	switch f.kind {
	case fkRegion:
		ce.test = func(in *Input) bool { return in.phone(d).region != "" }
		ce.got = func(in *Input) string { return quoteOrAbsent(in.phone(d).region) }
	case fkAreaCode:
		ce.test = func(in *Input) bool { return in.phone(d).areaCode != "" }
		ce.got = func(in *Input) string { return quoteOrAbsent(in.phone(d).areaCode) }
	case fkMeta:
		keys := strings.Split(n.field[len(metaPrefix):], ".")
		ce.test = func(in *Input) bool { v := in.meta(keys); return v != nil }
		ce.got = func(in *Input) string { return gotAny(in.meta(keys)) }
	default:
		ce.test = func(in *Input) bool { return in.present(d) }
		ce.got = func(in *Input) string { return in.gotData(d) }
	}
	return ce, nil
}

func quoteOrAbsent(s string) string {
	if s == "" {
		return "absent"
	}
	return strconv.Quote(s)
}

// stringCond compiles =, in and prefix on string fields.
func (c *compiler) stringCond(f *fieldSpec, n *node, op string, vals []value, idx func(int) int, ce *condExpr) *Error {
	set := make([]string, len(vals))
	for i, v := range vals {
		if v.kind != vString {
			return c.errAt(n, "value", idx(i), fmt.Sprintf("%s %s needs a string, got %s", n.field, n.op, describe(v)))
		}
		s := v.s
		bad := ""
		switch f.kind {
		case fkEventType:
			if op == opPrefix {
				if s == "" {
					bad = "empty prefix"
				}
			} else if !events.IsType(s) {
				bad = fmt.Sprintf("unknown event type %q", s)
			}
		case fkPhone:
			if op == opPrefix {
				if len(s) < 2 || len(s) > 16 || s[0] != '+' || !allDigits(s[1:]) {
					bad = fmt.Sprintf(`bad phone prefix %q: "+" and 1 to 15 digits expected, e.g. "+1415"`, s)
				}
			} else if !isE164(s) {
				bad = fmt.Sprintf(`bad phone number %q: E.164 expected, e.g. "+14155550142"`, s)
			}
		case fkRegion:
			s, bad = checkRegion(s)
		case fkAreaCode:
			if len(s) > 8 || !allDigits(s) {
				bad = fmt.Sprintf(`bad area code %q: 1 to 8 digits expected, e.g. "415"`, s)
			}
		case fkEnum:
			s = strings.ToLower(s)
			if !contains(f.enum, s) {
				bad = fmt.Sprintf("bad %s value %q: want %s", n.field, v.s, orList(f.enum))
			}
		case fkString:
			if op == opPrefix && s == "" {
				bad = "empty prefix"
			}
		}
		if bad != "" {
			return c.errAt(n, "value", idx(i), bad)
		}
		set[i] = s
	}
	// The getter: the field's string, and whether it is there.
	var get func(in *Input) (string, bool)
	d := f.data
	switch f.kind {
	case fkEventType:
		get = func(in *Input) (string, bool) { return in.ev.Type, true }
		ce.got = func(in *Input) string { return strconv.Quote(in.ev.Type) }
	case fkRegion:
		get = func(in *Input) (string, bool) { r := in.phone(d).region; return r, r != "" }
		ce.got = func(in *Input) string { return quoteOrAbsent(in.phone(d).region) }
	case fkAreaCode:
		get = func(in *Input) (string, bool) { a := in.phone(d).areaCode; return a, a != "" }
		ce.got = func(in *Input) string { return quoteOrAbsent(in.phone(d).areaCode) }
	default:
		get = func(in *Input) (string, bool) { return in.str(d) }
		ce.got = func(in *Input) string { return in.gotData(d) }
	}
	fold := f.kind == fkEnum
	switch op {
	case opPrefix:
		p := set[0]
		ce.test = func(in *Input) bool { s, ok := get(in); return ok && strings.HasPrefix(s, p) }
	default: // = and in
		ce.test = func(in *Input) bool {
			s, ok := get(in)
			if !ok {
				return false
			}
			for _, w := range set {
				if s == w || fold && strings.EqualFold(s, w) {
					return true
				}
			}
			return false
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orList(l []string) string {
	if len(l) == 1 {
		return l[0]
	}
	return strings.Join(l[:len(l)-1], ", ") + " or " + l[len(l)-1]
}

// numberCond compiles =, in, <, <=, >, >= on numbers, urgencies and times.
func (c *compiler) numberCond(f *fieldSpec, n *node, op string, vals []value, idx func(int) int, ce *condExpr, loc *time.Location) *Error {
	set := make([]float64, len(vals))
	for i, v := range vals {
		var bad string
		switch f.kind {
		case fkNumber:
			if v.kind != vNumber {
				bad = fmt.Sprintf("%s %s needs a number, got %s", n.field, n.op, describe(v))
			}
			set[i] = v.n
		case fkUrgency:
			r := 0
			if v.kind == vString {
				r = nameIndex(urgency, nil, v.s)
			}
			if r == 0 {
				bad = fmt.Sprintf("bad urgency value %s: want low, medium or high", describe(v))
			}
			set[i] = float64(r)
		case fkTime:
			set[i], bad = timeValue(f.part, v)
		}
		if bad != "" {
			return c.errAt(n, "value", idx(i), bad)
		}
	}
	var get func(in *Input) (float64, bool)
	d := f.data
	switch f.kind {
	case fkNumber:
		get = func(in *Input) (float64, bool) { return in.num(d) }
		ce.got = func(in *Input) string { return in.gotData(d) }
	case fkUrgency:
		get = func(in *Input) (float64, bool) { return in.urgency() }
		ce.got = func(in *Input) string { return in.gotData(d) }
	case fkTime:
		part := f.part
		get = func(in *Input) (float64, bool) { return in.timePart(loc, part) }
		ce.got = func(in *Input) string {
			x, ok := in.timePart(loc, part)
			if !ok {
				return "absent"
			}
			return formatTime(part, x)
		}
	}
	x := set[0]
	switch op {
	case opEq:
		ce.test = func(in *Input) bool { v, ok := get(in); return ok && v == x }
	case opIn:
		ce.test = func(in *Input) bool {
			v, ok := get(in)
			if !ok {
				return false
			}
			for _, w := range set {
				if v == w {
					return true
				}
			}
			return false
		}
	case opLt:
		ce.test = func(in *Input) bool { v, ok := get(in); return ok && v < x }
	case opLe:
		ce.test = func(in *Input) bool { v, ok := get(in); return ok && v <= x }
	case opGt:
		ce.test = func(in *Input) bool { v, ok := get(in); return ok && v > x }
	case opGe:
		ce.test = func(in *Input) bool { v, ok := get(in); return ok && v >= x }
	}
	return nil
}

// topicsCond compiles has (an element equals) and in (an element is in the
// list), both case-insensitive.
func (c *compiler) topicsCond(n *node, op string, vals []value, idx func(int) int, ce *condExpr) *Error {
	set := make([]string, len(vals))
	for i, v := range vals {
		if v.kind != vString || strings.TrimSpace(v.s) == "" {
			return c.errAt(n, "value", idx(i), fmt.Sprintf("topics %s needs a non-empty string, got %s", n.op, describe(v)))
		}
		set[i] = foldString(v.s)
	}
	ce.test = func(in *Input) bool {
		for _, t := range in.topics() {
			for _, w := range set {
				if t == w {
					return true
				}
			}
		}
		return false
	}
	ce.got = func(in *Input) string { return in.gotData(dTopics) }
	return nil
}

// textCond compiles has on transcript and summary: a whole-word,
// case-insensitive phrase search.
func (c *compiler) textCond(f *fieldSpec, n *node, v value, ce *condExpr) *Error {
	if v.kind != vString {
		return c.errAt(n, "value", -1, fmt.Sprintf("%s has needs a phrase string, got %s", n.field, describe(v)))
	}
	p, ok := newPhrase(v.s)
	if !ok {
		return c.errAt(n, "value", -1, "empty phrase")
	}
	d := f.data
	p.key = n.field + "\x00" + p.needle
	ce.test = func(in *Input) bool { return in.hasPhrase(d, &p) }
	ce.got = func(in *Input) string {
		switch {
		case !in.present(d):
			return "absent"
		case in.hasPhrase(d, &p):
			return "found"
		}
		return "not found"
	}
	return nil
}

// metaCond compiles conditions on metadata.<key>: = and in compare strings,
// numbers and booleans by JSON type; <, <=, >, >= need numbers; prefix and
// has need strings.
func (c *compiler) metaCond(n *node, op string, vals []value, idx func(int) int, ce *condExpr) *Error {
	keys := strings.Split(n.field[len(metaPrefix):], ".")
	get := func(in *Input) any { return in.meta(keys) }
	ce.got = func(in *Input) string { return gotAny(get(in)) }
	switch op {
	case opEq, opIn:
		set := make([]any, len(vals))
		for i, v := range vals {
			set[i] = v.any()
		}
		ce.test = func(in *Input) bool {
			x := get(in)
			for _, w := range set {
				if x == w { // string, float64 and bool compare by value
					return true
				}
			}
			return false
		}
	case opLt, opLe, opGt, opGe:
		if vals[0].kind != vNumber {
			return c.errAt(n, "value", -1, fmt.Sprintf("%s %s needs a number, got %s", n.field, n.op, describe(vals[0])))
		}
		y := vals[0].n
		var cmp func(a float64) bool
		switch op {
		case opLt:
			cmp = func(a float64) bool { return a < y }
		case opLe:
			cmp = func(a float64) bool { return a <= y }
		case opGt:
			cmp = func(a float64) bool { return a > y }
		default:
			cmp = func(a float64) bool { return a >= y }
		}
		ce.test = func(in *Input) bool { x, ok := get(in).(float64); return ok && cmp(x) }
	case opPrefix, opHas:
		if vals[0].kind != vString {
			return c.errAt(n, "value", -1, fmt.Sprintf("%s %s needs a string, got %s", n.field, n.op, describe(vals[0])))
		}
		if op == opPrefix {
			if vals[0].s == "" {
				return c.errAt(n, "value", -1, "empty prefix")
			}
			p := vals[0].s
			ce.test = func(in *Input) bool { x, ok := get(in).(string); return ok && strings.HasPrefix(x, p) }
			break
		}
		p, ok := newPhrase(vals[0].s)
		if !ok {
			return c.errAt(n, "value", -1, "empty phrase")
		}
		ce.test = func(in *Input) bool { x, ok := get(in).(string); return ok && p.in(foldString(x)) }
	}
	return nil
}

// gotAny renders a metadata value for explanations.
func gotAny(v any) string {
	switch v := v.(type) {
	case nil:
		return "absent"
	case string:
		return strconv.Quote(truncate(v, 64))
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return "number"
		}
		return formatNumber(v)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "array"
	}
	return "object"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
