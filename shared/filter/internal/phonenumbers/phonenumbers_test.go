package phonenumbers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Linking the package, or initializing it, must not load the metadata:
// TestMain runs before any test has called into the package.
func TestMain(m *testing.M) {
	if n := LoadCount(); n != 0 {
		fmt.Fprintf(os.Stderr, "metadata loaded %d times by package init\n", n)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// derive is what package filter asks of a number.
func derive(number string) (region, ndc string, err error) {
	n, err := Parse(number, UNKNOWN_REGION)
	if err != nil {
		return "", "", err
	}
	region = GetRegionCodeForNumber(n)
	if l := GetLengthOfNationalDestinationCode(n); l > 0 {
		ndc = GetNationalSignificantNumber(n)[:l]
	}
	return region, ndc, nil
}

// The fork derives what upstream v1.8.1 derives (testdata/derived.txt).
func TestDerivedAsUpstream(t *testing.T) {
	f, err := os.Open("testdata/derived.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines, regions := 0, map[string]bool{}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		lines++
		fields := strings.Fields(line)
		region, ndc, err := derive(fields[0])
		switch {
		case len(fields) == 2 && fields[1] == "!":
			if err == nil {
				t.Errorf("%s: parsed, upstream fails", fields[0])
			}
		case len(fields) != 3:
			t.Fatalf("bad line %q", line)
		case err != nil:
			t.Errorf("%s: %v", fields[0], err)
		default:
			if region == "" {
				region = "-"
			}
			if ndc == "" {
				ndc = "-"
			}
			if region != fields[1] || ndc != fields[2] {
				t.Errorf("%s: got %s %s, upstream %s %s", fields[0], region, ndc, fields[1], fields[2])
			}
			regions[region] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines < 2000 || len(regions) < 200 {
		t.Errorf("only %d numbers in %d regions", lines, len(regions))
	}
}

func TestSupportedRegions(t *testing.T) {
	r := GetSupportedRegions()
	if len(r) < 240 {
		t.Errorf("%d regions", len(r))
	}
	for _, c := range []string{"US", "CA", "GB", "GG", "DE", "FR", "IN", "JP", "BR", "AU"} {
		if !r[c] {
			t.Errorf("%s not supported", c)
		}
	}
	for _, c := range []string{"001", "ZZ", "UK", ""} {
		if r[c] {
			t.Errorf("%q supported", c)
		}
	}
}

// Parse accepts what upstream accepts beyond E.164: punctuation,
// extensions, RFC 3966 URIs, full-width and Arabic-Indic digits.
func TestParseForms(t *testing.T) {
	for _, s := range []string{
		"+1 (415) 555-0142", "+1 415 555 0142 ext. 12", "tel:+1-415-555-0142",
		"tel:415-555-0142;phone-context=+1", "＋１ ４１５ ５５５ ０１４２", "+١٤١٥٥٥٥٠١٤٢",
	} {
		n, err := Parse(s, UNKNOWN_REGION)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := GetNationalSignificantNumber(n); n.GetCountryCode() != 1 || got != "4155550142" {
			t.Errorf("%q: +%d %s", s, n.GetCountryCode(), got)
		}
	}
	for _, s := range []string{"", "+", "+1", "hello", "4155550142" /* no region */, "+999123456", strings.Repeat("1", 300)} {
		if n, err := Parse(s, UNKNOWN_REGION); err == nil {
			t.Errorf("%q parsed as %+v", s, n)
		}
	}
}

// The first use loads the metadata once, whichever goroutines get there
// together. It runs in a child process, where the use is really the first;
// under -race the child is race-instrumented too.
func TestConcurrentFirstUse(t *testing.T) {
	if os.Getenv("PHONENUMBERS_CHILD") == "1" {
		concurrentFirstUse(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentFirstUse$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PHONENUMBERS_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
}

func concurrentFirstUse(t *testing.T) {
	if n := LoadCount(); n != 0 {
		t.Fatalf("loaded %d times before the first use", n)
	}
	cases := []struct{ number, region, ndc string }{
		{"+14155550142", "US", "415"}, {"+14165550199", "CA", "416"},
		{"+442079460958", "GB", "20"}, {"+4930123456", "DE", "30"},
		{"+33612345678", "FR", "6"}, {"+819012345678", "JP", "90"},
		{"+5521987654321", "BR", "21"}, {"+61212345678", "AU", "2"},
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 32 {
		c := cases[i%len(cases)]
		wg.Go(func() {
			<-start
			if i%4 == 3 {
				if !GetSupportedRegions()[c.region] {
					t.Errorf("%s not supported", c.region)
				}
				return
			}
			region, ndc, err := derive(c.number)
			if err != nil || region != c.region || ndc != c.ndc {
				t.Errorf("%s: %s %s %v, want %s %s", c.number, region, ndc, err, c.region, c.ndc)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := LoadCount(); n != 1 {
		t.Errorf("loaded %d times", n)
	}
}

// BenchmarkLoadMetadata is the cost of the first use: decoding the
// embedded metadata (the regular expressions compile later, as used).
func BenchmarkLoadMetadata(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loadMetadata(regionData, numberData); err != nil {
			b.Fatal(err)
		}
	}
}
