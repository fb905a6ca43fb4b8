package filter

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/phoneshield/webhooks/shared/filter/internal/phonenumbers"
)

// Countries and area codes come from libphonenumber's metadata, including
// calling codes shared by several countries (+1, +44).
func TestPhoneCountries(t *testing.T) {
	cases := []struct {
		number, country, area string
	}{
		{"+14155550142", "US", "415"},    // San Francisco
		{"+12125551234", "US", "212"},    // New York
		{"+18005550199", "US", "800"},    // toll free
		{"+14165550199", "CA", "416"},    // Toronto, also +1
		{"+16045550123", "CA", "604"},    // Vancouver
		{"+442079460958", "GB", "20"},    // London
		{"+447400123456", "GB", "7400"},  // UK mobile
		{"+4930123456", "DE", "30"},      // Berlin
		{"+4989123456", "DE", "89"},      // Munich
		{"+4915112345678", "DE", "1511"}, // German mobile
		{"+33142685300", "FR", "1"},      // Paris
		{"+33612345678", "FR", "6"},      // French mobile
		{"+912223456789", "IN", "22"},    // Mumbai
		{"+919876543210", "IN", "98765"}, // Indian mobile
		{"+81312345678", "JP", "3"},      // Tokyo
		{"+819012345678", "JP", "90"},    // Japanese mobile
		{"+551133334444", "BR", "11"},    // São Paulo
		{"+5521987654321", "BR", "21"},   // Rio mobile
		{"+61212345678", "AU", "2"},      // Sydney
		{"+15551234567", "", "555"},      // 555: no +1 country claims it
		{"+80012345678", "", "1234"},     // international freephone: no country
		{"+12", "", ""},                  // too short
		{"14155550142", "", ""},          // not E.164
		{"+999123456", "", ""},           // unassigned calling code
	}
	for _, c := range cases {
		t.Run(c.number, func(t *testing.T) {
			info := lookupPhone(c.number)
			if info.region != c.country || info.areaCode != c.area {
				t.Errorf("got %q %q, want %q %q", info.region, info.areaCode, c.country, c.area)
			}
			ev := event(t, "call.completed", sampleTime, map[string]any{"caller_number": c.number})
			if c.country != "" {
				check(t, mustParse(t, `caller_country = "`+c.country+`"`), ev, true)
				check(t, mustParse(t, `caller_country in ["ZW", "`+c.country+`"]`), ev, true)
			} else {
				check(t, mustParse(t, `caller_country exists`), ev, false)
			}
			if c.area != "" {
				check(t, mustParse(t, `caller_area_code = "`+c.area+`"`), ev, true)
			}
			// Cached and derived answers agree.
			if again := lookupPhone(c.number); again != info {
				t.Errorf("cached %+v, derived %+v", again, info)
			}
		})
	}
}

func TestPhoneCacheBounded(t *testing.T) {
	for i := range phoneCacheMax + 10 {
		lookupPhone("+1415555" + string(rune('0'+i%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/1000%10)) + string(rune('0'+i/10000%10)))
	}
	phoneCache.RLock()
	n := len(phoneCache.m)
	phoneCache.RUnlock()
	if n > phoneCacheMax {
		t.Errorf("cache holds %d numbers", n)
	}
}

// The phone metadata (libphonenumber's, ~250 regions) loads on the first
// derivation of a country or area code, or the first check of a region
// code when a filter is compiled, once; a process whose filters have
// neither never loads it. The load is once per process, so each scenario
// runs in a child process of its own.
func TestPhoneMetadataLazy(t *testing.T) {
	if s := os.Getenv("FILTER_PHONE_CHILD"); s != "" {
		phoneChild(t, s)
		return
	}
	for _, s := range []string{"none", "area", "country", "concurrent"} {
		t.Run(s, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPhoneMetadataLazy$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "FILTER_PHONE_CHILD="+s)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestPhoneMetadataLazy") {
				t.Fatalf("child: %v\n%s", err, out)
			}
		})
	}
}

func phoneChild(t *testing.T, scenario string) {
	loads := func(want int) {
		t.Helper()
		if n := phonenumbers.LoadCount(); n != want {
			t.Fatalf("metadata loaded %d times, want %d", n, want)
		}
	}
	loads(0) // package init loads nothing
	ev := event(t, "call.completed", sampleTime, map[string]any{"caller_number": "+14165550199", "phone_number": "+442079460958"})
	switch scenario {
	case "none":
		// Filters on everything but the countries and area codes,
		// compiled from both forms, evaluated and traced.
		for _, s := range []string{
			seedText,
			`caller_number = "+14165550199" and phone_number prefix "+44"`,
			`caller_number in ["+14155550142", "+14165550199"] or phone_number exists`,
			`tz "Europe/London"; time.weekday <= fri and time.hour >= 9 and urgency >= medium`,
			`not (direction = outbound) and duration_seconds > 60 and metadata.crm_id exists`,
		} {
			f := mustParse(t, s)
			mustJSON(t, string(f.JSON()))
			f.Eval(Prepare(ev))
			f.Match(ev)
		}
		loads(0)
	case "area":
		f := mustParse(t, `caller_area_code = "416" and phone_area_code in ["20", "121"]`)
		loads(0) // an area code is checked as digits, without the metadata
		check(t, f, ev, true)
		loads(1)
		check(t, mustParse(t, `caller_country = "CA"`), ev, true)
		check(t, mustParse(t, `phone_country = "US"`), ev, false)
		loads(1)
	case "country":
		mustParse(t, `caller_country exists`)
		loads(0)
		mustParse(t, `caller_country in ["us", "ca"]`) // checked against the metadata's regions
		loads(1)
		if _, err := Parse(`phone_country = "UK"`); err == nil {
			t.Error(`"UK" accepted`)
		}
		check(t, mustParse(t, `phone_country = "GB" and phone_area_code = "20"`), ev, true)
		loads(1)
	case "concurrent":
		// First uses of every kind at once: region checks, derivations
		// and evaluations (run the test with -race).
		cases := []struct{ number, country, area string }{
			{"+14155550142", "US", "415"}, {"+14165550199", "CA", "416"},
			{"+442079460958", "GB", "20"}, {"+33612345678", "FR", "6"},
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 24 {
			c := cases[i%len(cases)]
			wg.Go(func() {
				<-start
				switch i % 3 {
				case 0:
					if _, err := Parse(`caller_country = "` + c.country + `"`); err != nil {
						t.Error(err)
					}
				case 1:
					if info := lookupPhone(c.number); info.region != c.country || info.areaCode != c.area {
						t.Errorf("%s: %+v", c.number, info)
					}
				case 2:
					f, err := Parse(`caller_area_code = "` + c.area + `"`)
					if err != nil {
						t.Error(err)
						return
					}
					ev := event(t, "call.completed", sampleTime, map[string]any{"caller_number": c.number})
					if ok, why := f.Eval(Prepare(ev)); !ok {
						t.Errorf("%s: %s", c.number, why)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		loads(1)
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
}
