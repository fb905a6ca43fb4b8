package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// decodeJSON turns the JSON tree form into a syntax tree. raw holding a JSON
// string is the text form.
func decodeJSON(raw []byte, strict bool) (*node, *Error) {
	if len(raw) > MaxSize {
		return nil, &Error{Offset: -1, Msg: fmt.Sprintf("filter longer than %d bytes", MaxSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, &Error{Offset: -1, Msg: "empty filter"}
		}
		return nil, &Error{Offset: -1, Msg: "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Offset: -1, Msg: "malformed JSON: data after the filter"}
	}
	if s, ok := v.(string); ok {
		n, err := parseText(s, strict)
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	d := &jsonDecoder{strict: strict}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, jsonErr("", "", fmt.Sprintf("a filter is an object or a text filter string, got %s", jsonKind(v)))
	}
	var header string
	if tz, ok := obj["tz"]; ok && !isCondObject(obj) {
		// The root's zone is the default of every time condition.
		s, ok := tz.(string)
		if !ok {
			return nil, jsonErr("", "tz", "tz must be a string, e.g. \"America/New_York\"")
		}
		if _, msg := loadZone(s); msg != "" {
			return nil, jsonErr("", "tz", msg)
		}
		header = s
		delete(obj, "tz")
	}
	n, err := d.node(obj, "", 1)
	if err != nil {
		return nil, err
	}
	if header != "" {
		applyTZ(n, header)
	}
	return n, nil
}

func isCondObject(obj map[string]any) bool {
	_, f := obj["field"]
	_, e := obj["event_type"]
	return f || e
}

type jsonDecoder struct {
	nodes  int
	strict bool // see parseNumber
}

// jsonErr is an error at path.part ("and[1].or[0]" + "field").
func jsonErr(path, part, msg string) *Error {
	return &Error{Path: joinPath(path, part), Offset: -1, Msg: msg}
}

func joinPath(path, part string) string {
	switch {
	case path == "":
		return part
	case part == "":
		return path
	case part[0] == '[':
		return path + part
	}
	return path + "." + part
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// node decodes the object at path (depth counts from 1 at the root).
func (d *jsonDecoder) node(v any, path string, depth int) (*node, *Error) {
	if depth > MaxDepth {
		return nil, jsonErr(path, "", fmt.Sprintf("nested deeper than %d", MaxDepth))
	}
	d.nodes++
	if d.nodes > MaxNodes {
		return nil, jsonErr(path, "", fmt.Sprintf("more than %d nodes", MaxNodes))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, jsonErr(path, "", fmt.Sprintf("a filter node is an object, got %s", jsonKind(v)))
	}
	var kinds []string
	for _, k := range []string{"and", "or", "not", "field", "event_type"} {
		if _, ok := obj[k]; ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		msg := `a filter node has exactly one of "and", "or", "not", "field" or "event_type"`
		if len(kinds) > 1 {
			msg = fmt.Sprintf("%s (got %s)", msg, strings.Join(kinds, ", "))
		}
		return nil, jsonErr(path, "", msg)
	}
	allowed := map[string]bool{kinds[0]: true}
	if kinds[0] == "field" {
		allowed["op"], allowed["value"], allowed["tz"] = true, true, true
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !allowed[k] {
			msg := fmt.Sprintf("unknown key %q", k)
			if k == "tz" {
				msg = `"tz" is allowed on a condition or on the root only`
			}
			return nil, jsonErr(path, k, msg)
		}
	}
	switch kinds[0] {
	case "and", "or":
		kids, ok := obj[kinds[0]].([]any)
		if !ok || len(kids) == 0 {
			return nil, jsonErr(path, kinds[0], fmt.Sprintf("%s needs a non-empty array of filter nodes", kinds[0]))
		}
		n := &node{kind: kAnd, loc: &loc{path: path}}
		if kinds[0] == "or" {
			n.kind = kOr
		}
		for i, kv := range kids {
			k, err := d.node(kv, joinPath(path, fmt.Sprintf("%s[%d]", kinds[0], i)), depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
		}
		return n, nil
	case "not":
		k, err := d.node(obj["not"], joinPath(path, "not"), depth+1)
		if err != nil {
			return nil, err
		}
		return &node{kind: kNot, kids: []*node{k}, loc: &loc{path: path}}, nil
	case "event_type":
		// Shorthand: {"event_type": "call.completed"} or {"event_type": [...]}.
		n := &node{kind: kCond, field: "event_type", op: opEq, loc: &loc{path: path, short: true}}
		switch ev := obj["event_type"].(type) {
		case []any:
			n.op = opIn
			l, err := d.jsonList(ev, joinPath(path, "event_type"))
			if err != nil {
				return nil, err
			}
			n.list = l
		default:
			val, err := d.jsonScalar(ev, joinPath(path, "event_type"))
			if err != nil {
				return nil, err
			}
			n.val = val
		}
		return n, nil
	}
	n := &node{kind: kCond, loc: &loc{path: path}}
	f, ok := obj["field"].(string)
	if !ok {
		return nil, jsonErr(path, "field", fmt.Sprintf("field must be a string, got %s", jsonKind(obj["field"])))
	}
	if len(f) > MaxString {
		return nil, jsonErr(path, "field", fmt.Sprintf("field longer than %d bytes", MaxString))
	}
	n.field = f
	opv, ok := obj["op"]
	if !ok {
		return nil, jsonErr(path, "op", "op is missing")
	}
	ops, ok := opv.(string)
	if !ok {
		return nil, jsonErr(path, "op", fmt.Sprintf("op must be a string, got %s", jsonKind(opv)))
	}
	if n.op, ok = canonicalOp(ops); !ok {
		return nil, jsonErr(path, "op", fmt.Sprintf("unknown operator %q (want =, !=, in, not in, prefix, has, contains, <, <=, >, >=, exists or not exists)", ops))
	}
	val, hasVal := obj["value"]
	switch n.op {
	case opExists, opNotExists:
		if hasVal {
			return nil, jsonErr(path, "value", n.op+" takes no value")
		}
	case opIn, opNotIn:
		l, ok := val.([]any)
		if !ok {
			return nil, jsonErr(path, "value", fmt.Sprintf("%s needs an array value, got %s", n.op, jsonKind(val)))
		}
		list, err := d.jsonList(l, joinPath(path, "value"))
		if err != nil {
			return nil, err
		}
		n.list = list
	default:
		if !hasVal {
			return nil, jsonErr(path, "value", "value is missing")
		}
		v, err := d.jsonScalar(val, joinPath(path, "value"))
		if err != nil {
			return nil, err
		}
		n.val = v
	}
	if tz, ok := obj["tz"]; ok {
		s, ok := tz.(string)
		if !ok || s == "" {
			return nil, jsonErr(path, "tz", fmt.Sprintf("tz must be a time zone name, got %s", jsonKind(tz)))
		}
		n.tz = s
	}
	return n, nil
}

func (d *jsonDecoder) jsonList(l []any, path string) ([]value, *Error) {
	if len(l) > MaxList {
		return nil, jsonErr(path, "", fmt.Sprintf("list longer than %d", MaxList))
	}
	out := make([]value, 0, len(l))
	for i, e := range l {
		v, err := d.jsonScalar(e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *jsonDecoder) jsonScalar(v any, path string) (value, *Error) {
	switch v := v.(type) {
	case string:
		if len(v) > MaxString {
			return value{}, jsonErr(path, "", fmt.Sprintf("string longer than %d bytes", MaxString))
		}
		return value{kind: vString, s: v}, nil
	case json.Number:
		f, msg := parseNumber(v.String(), d.strict)
		if msg != "" {
			return value{}, jsonErr(path, "", msg)
		}
		return value{kind: vNumber, n: f}, nil
	case bool:
		return value{kind: vBool, b: v}, nil
	}
	return value{}, jsonErr(path, "", fmt.Sprintf("a value is a string, number or boolean, got %s", jsonKind(v)))
}
