package filter

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// nodeKind is what a node of the syntax tree is.
type nodeKind uint8

const (
	kCond nodeKind = iota
	kAnd
	kOr
	kNot
)

// Operators, as spelled in both forms (canonical spellings).
const (
	opEq        = "="
	opNe        = "!="
	opIn        = "in"
	opNotIn     = "not in"
	opPrefix    = "prefix"
	opHas       = "has"
	opLt        = "<"
	opLe        = "<="
	opGt        = ">"
	opGe        = ">="
	opExists    = "exists"
	opNotExists = "not exists"
)

// canonicalOp maps every accepted spelling of an operator to its canonical
// one ("contains" is "has", "==" is "=").
func canonicalOp(s string) (string, bool) {
	switch s {
	case opEq, "==":
		return opEq, true
	case opNe, opIn, opNotIn, opPrefix, opHas, opLt, opLe, opGt, opGe, opExists, opNotExists:
		return s, true
	case "contains":
		return opHas, true
	}
	return "", false
}

// valueKind is the type of a literal.
type valueKind uint8

const (
	vString valueKind = iota + 1
	vNumber
	vBool
)

func (k valueKind) String() string {
	switch k {
	case vString:
		return "string"
	case vNumber:
		return "number"
	case vBool:
		return "boolean"
	}
	return "nothing"
}

// value is a literal: a string, a number or a boolean. A bare word in the
// text form (urgency >= medium) is a string.
type value struct {
	kind valueKind
	s    string
	n    float64
	b    bool
}

func (v value) equal(w value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case vString:
		return v.s == w.s
	case vNumber:
		return v.n == w.n
	case vBool:
		return v.b == w.b
	}
	return true
}

// node is the syntax tree shared by both forms: and/or with two or more
// operands, not with one, or a condition (field op value [tz]).
type node struct {
	kind  nodeKind
	kids  []*node
	field string
	op    string  // canonical
	val   value   // scalar operand (=, !=, <, ..., prefix, has)
	list  []value // in, not in
	tz    string  // time zone of a time.* condition; "" is UTC
	loc   *loc    // where the node came from, for errors; nil after compilation
}

// loc locates a node's parts in its source, for error messages.
type loc struct {
	path   string // JSON: the node's path ("" for the root)
	short  bool   // JSON: the {"event_type": ...} shorthand
	text   bool   // text form: the offsets below are valid
	off    int    // start of the node (field of a condition)
	opOff  int
	valOff int
	elems  []int // offsets of list elements
	tzOff  int
}

// equal reports whether two trees are the same filter, ignoring locations.
func (n *node) equal(m *node) bool {
	if n.kind != m.kind || len(n.kids) != len(m.kids) {
		return false
	}
	for i := range n.kids {
		if !n.kids[i].equal(m.kids[i]) {
			return false
		}
	}
	if n.kind != kCond {
		return true
	}
	if n.field != m.field || n.op != m.op || n.tz != m.tz || !n.val.equal(m.val) || len(n.list) != len(m.list) {
		return false
	}
	for i := range n.list {
		if !n.list[i].equal(m.list[i]) {
			return false
		}
	}
	return true
}

// count returns the number of nodes and the depth of the tree.
func (n *node) count() (nodes, depth int) {
	nodes, depth = 1, 1
	for _, k := range n.kids {
		c, d := k.count()
		nodes += c
		depth = max(depth, d+1)
	}
	return nodes, depth
}

// forEachCond calls fn for every condition of the tree, in order.
func (n *node) forEachCond(fn func(*node)) {
	if n.kind == kCond {
		fn(n)
		return
	}
	for _, k := range n.kids {
		k.forEachCond(fn)
	}
}

// collapse replaces and/or nodes of a single operand with that operand, so
// that {"and":[x]} and x are the same filter (the text form can't tell them
// apart).
func collapse(n *node) *node {
	for i, k := range n.kids {
		n.kids[i] = collapse(k)
	}
	if (n.kind == kAnd || n.kind == kOr) && len(n.kids) == 1 {
		return n.kids[0]
	}
	return n
}

// applyTZ gives every time condition without a zone the zone tz (the
// filter-wide default of both forms).
func applyTZ(n *node, tz string) {
	n.forEachCond(func(c *node) {
		if c.tz == "" && isTimeField(c.field) {
			c.tz = tz
		}
	})
}

// ---- canonical text ----

// keywords of the text form (matched case-insensitively).
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "has": true, "contains": true,
	"prefix": true, "exists": true, "true": true, "false": true, "tz": true,
}

// text renders the tree in canonical text form. Time conditions that all
// share one zone get it once, as a header (tz "Europe/Paris"; ...).
func (n *node) text() string {
	var b strings.Builder
	common := commonTZ(n)
	if common != "" {
		b.WriteString("tz ")
		writeQuoted(&b, common)
		b.WriteString("; ")
	}
	writeNode(&b, n, common)
	return b.String()
}

// commonTZ returns the zone shared by every time condition, "" if they
// don't share one or there are none.
func commonTZ(n *node) string {
	tz, ok := "", true
	n.forEachCond(func(c *node) {
		if !isTimeField(c.field) {
			return
		}
		switch {
		case c.tz == "":
			ok = false
		case tz == "":
			tz = c.tz
		case tz != c.tz:
			ok = false
		}
	})
	if !ok {
		return ""
	}
	return tz
}

func writeNode(b *strings.Builder, n *node, header string) {
	switch n.kind {
	case kAnd, kOr:
		sep := " and "
		if n.kind == kOr {
			sep = " or "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			if k.kind == kAnd || k.kind == kOr {
				b.WriteByte('(')
				writeNode(b, k, header)
				b.WriteByte(')')
			} else {
				writeNode(b, k, header)
			}
		}
	case kNot:
		b.WriteString("not (")
		writeNode(b, n.kids[0], header)
		b.WriteByte(')')
	case kCond:
		writeCond(b, n, header)
	}
}

func writeCond(b *strings.Builder, n *node, header string) {
	b.WriteString(n.field)
	b.WriteByte(' ')
	b.WriteString(n.op)
	switch n.op {
	case opExists, opNotExists:
	case opIn, opNotIn:
		b.WriteString(" [")
		for i, v := range n.list {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, n.field, v)
		}
		b.WriteByte(']')
	default:
		b.WriteByte(' ')
		writeValue(b, n.field, n.val)
	}
	if n.tz != "" && n.tz != header {
		b.WriteString(" tz ")
		writeQuoted(b, n.tz)
	}
}

func writeValue(b *strings.Builder, field string, v value) {
	switch v.kind {
	case vNumber:
		b.WriteString(formatNumber(v.n))
	case vBool:
		b.WriteString(strconv.FormatBool(v.b))
	default:
		if bareField(field) && bareWord(v.s) {
			b.WriteString(v.s)
		} else {
			writeQuoted(b, v.s)
		}
	}
}

// bareField reports whether the field's values print as bare words
// (urgency >= medium, time.weekday in [mon, tue]).
func bareField(field string) bool {
	switch field {
	case "direction", "sentiment", "urgency", "time.weekday", "time.month":
		return true
	}
	return false
}

// bareWord reports whether s can be written without quotes: a lower-case
// word that is not a keyword.
func bareWord(s string) bool {
	if s == "" || keywords[strings.ToLower(s)] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// formatNumber writes n the way the lexer reads it back: plain decimals,
// exponents only for very large or small magnitudes (like encoding/json).
func formatNumber(n float64) string {
	a := math.Abs(n)
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(n, 'e', -1, 64)
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// writeQuoted writes s as a double-quoted string literal of the text form.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError && size == 1:
			const hex = "0123456789abcdef"
			if r == utf8.RuneError {
				r = 0xfffd
			}
			b.WriteString(`\u`)
			b.WriteByte(hex[r>>12&0xf])
			b.WriteByte(hex[r>>8&0xf])
			b.WriteByte(hex[r>>4&0xf])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// ---- canonical JSON ----

type jsonCond struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value any    `json:"value,omitempty"`
	TZ    string `json:"tz,omitempty"`
}

func (v value) any() any {
	switch v.kind {
	case vNumber:
		return v.n
	case vBool:
		return v.b
	}
	return v.s
}

func (n *node) jsonValue() any {
	switch n.kind {
	case kAnd, kOr:
		kids := make([]any, len(n.kids))
		for i, k := range n.kids {
			kids[i] = k.jsonValue()
		}
		if n.kind == kAnd {
			return map[string]any{"and": kids}
		}
		return map[string]any{"or": kids}
	case kNot:
		return map[string]any{"not": n.kids[0].jsonValue()}
	}
	c := jsonCond{Field: n.field, Op: n.op, TZ: n.tz}
	switch n.op {
	case opExists, opNotExists:
	case opIn, opNotIn:
		l := make([]any, len(n.list))
		for i, v := range n.list {
			l[i] = v.any()
		}
		c.Value = l
	default:
		c.Value = n.val.any()
	}
	return c
}

// jsonBytes renders the tree as canonical JSON (compact, no HTML escaping).
func (n *node) jsonBytes() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n.jsonValue()); err != nil {
		panic("filter: encoding a valid tree: " + err.Error()) // can't happen: only strings, finite numbers, bools
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}
