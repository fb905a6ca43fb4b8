package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// printJSON prints an answer of the API as it came, indented. Unless
// secrets is true, any "secret", "previous_secret" or "secrets" member is
// removed first, so that only create and rotate-secret ever print one.
func (a *app) printJSON(raw []byte, secrets bool) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	if !secrets { // always: a key may be written with escapes ("\u0073ecret")
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err == nil {
			scrub(v)
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false) // the answer's text as it came
			if enc.Encode(v) == nil {
				raw = bytes.TrimSpace(out.Bytes())
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("the API answered with malformed JSON (%d bytes)", len(raw))
	}
	buf.WriteByte('\n')
	_, err := a.stdout.Write(buf.Bytes())
	return err
}

// printValue prints v as indented JSON (for answers webhookctl assembles
// itself: loops over pages and batches).
func (a *app) printValue(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.printJSON(b, false)
}

func scrub(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "secret" || k == "previous_secret" || k == "secrets" {
				delete(v, k)
				continue
			}
			scrub(x)
		}
	case []any:
		for _, x := range v {
			scrub(x)
		}
	}
}

func (a *app) table() *tabwriter.Writer { return tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0) }

// fields prints "name: value" lines, aligned.
func (a *app) fields(kv ...string) {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(w, "%s:\t%s\n", kv[i], oneLine(kv[i+1]))
	}
	w.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps table cells on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", "⏎", "\n", "⏎", "\r", "⏎", "\t", " ").Replace(s)
}

// cell shortens s to n runes for a table cell.
func cell(s string, n int) string {
	s = oneLine(s)
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return dash(s)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// readInput reads a file argument: "-" is stdin, "@path" or "path" a file.
func (a *app) readInput(flagName, name string) ([]byte, error) {
	name = strings.TrimPrefix(name, "@")
	if name == "-" {
		b, err := io.ReadAll(io.LimitReader(a.stdin, 4<<20))
		if err != nil {
			return nil, fmt.Errorf("%s: read stdin: %w", flagName, err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("%s: %v", flagName, err)
	}
	return b, nil
}

// jsonObject reads a JSON object from a file argument (or inline JSON when
// inline is true and the value starts with '{').
func (a *app) jsonObject(flagName, v string, inline bool) (json.RawMessage, error) {
	var b []byte
	if t := strings.TrimSpace(v); inline && (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) {
		b = []byte(v)
	} else {
		var err error
		if b, err = a.readInput(flagName, v); err != nil {
			return nil, err
		}
	}
	b = bytes.TrimSpace(b)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, usagef("%s: must be a JSON object: %v", flagName, jsonErr(err))
	}
	return json.RawMessage(b), nil
}

func jsonErr(err error) string {
	if err == nil {
		return "got null"
	}
	return err.Error()
}
