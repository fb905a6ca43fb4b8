package api

import (
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIValidates runs openapi-spec-validator (installed with the
// machine's Python) on the document.
func TestOpenAPIValidates(t *testing.T) {
	bin, err := exec.LookPath("openapi-spec-validator")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("openapi-spec-validator is required in CI: %v", err)
		}
		t.Skip("openapi-spec-validator not installed")
	}
	out, err := exec.Command(bin, "openapi.json").CombinedOutput()
	if err != nil {
		t.Fatalf("openapi-spec-validator: %v\n%s", err, out)
	}
}

// TestOpenAPIMatchesRoutes checks the document describes exactly the
// routes served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if got, want := strings.Join(documented, "\n"), strings.Join(served, "\n"); got != want {
		t.Errorf("documented routes:\n%s\n\nserved routes:\n%s", got, want)
	}
}
