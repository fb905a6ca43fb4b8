// Package jsjsontest runs JavaScript's JSON.parse and JSON.stringify in node
// over many inputs at once, for tests that compare Go output with V8's.
package jsjsontest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// script prints, for each file named on the command line, one line: the
// base64 of JSON.stringify(JSON.parse(text)) as UTF-8, or "!" and the
// error message when JSON.parse throws. The file is decoded as node decodes
// a UTF-8 Buffer (invalid bytes become U+FFFD), as Express does for a body.
const script = `
const fs = require('fs');
const out = [];
for (const f of process.argv.slice(2)) {
  try {
    const s = JSON.stringify(JSON.parse(fs.readFileSync(f, 'utf8')));
    out.push(Buffer.from(s, 'utf8').toString('base64'));
  } catch (e) {
    out.push('!' + String(e.message).replace(/[\r\n]+/g, ' '));
  }
}
process.stdout.write(out.join('\n') + '\n');
`

// Result is node's answer for one input.
type Result struct {
	Out []byte // JSON.stringify(JSON.parse(input)) when Err is ""
	Err string // JSON.parse's error message, if it threw
}

// Node returns the path of the node binary. When there is none the test
// fails if the CI environment variable is set and is skipped otherwise.
func Node(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("node is required in CI: %v", err)
		}
		tb.Skipf("node not found: %v", err)
	}
	return path
}

// RoundTrip runs JSON.stringify(JSON.parse(x)) in one node process for
// every input and returns the results in order.
func RoundTrip(tb testing.TB, inputs [][]byte) []Result {
	tb.Helper()
	node := Node(tb)
	dir := tb.TempDir()
	scriptPath := filepath.Join(dir, "roundtrip.js")
	if err := os.WriteFile(scriptPath, []byte(script), 0o600); err != nil {
		tb.Fatal(err)
	}
	args := []string{scriptPath}
	for i, in := range inputs {
		f := filepath.Join(dir, fmt.Sprintf("%05d.json", i))
		if err := os.WriteFile(f, in, 0o600); err != nil {
			tb.Fatal(err)
		}
		args = append(args, f)
	}
	cmd := exec.Command(node, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		tb.Fatalf("node: %v\n%s", err, stderr.String())
	}
	results := make([]Result, 0, len(inputs))
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 1<<30)
	for sc.Scan() {
		line := sc.Text()
		if msg, ok := strings.CutPrefix(line, "!"); ok {
			results = append(results, Result{Err: msg})
			continue
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			tb.Fatalf("node output line %d: %v", len(results), err)
		}
		results = append(results, Result{Out: b})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(results) != len(inputs) {
		tb.Fatalf("node answered %d of %d inputs", len(results), len(inputs))
	}
	return results
}
