package filter

import "testing"

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
