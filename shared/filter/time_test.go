package filter

import (
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Business hours in a zone with DST: the same UTC instant is in or out of
// hours depending on the side of the change it falls on.
func TestTimeZonesAcrossDST(t *testing.T) {
	ny := mustParse(t, `tz "America/New_York"; time.weekday <= fri and time.hour >= 9 and time.hour < 17`)
	london := mustParse(t, `tz "Europe/London"; time.weekday <= fri and time.clock >= "09:00" and time.clock < "17:30"`)
	cases := []struct {
		f    *Filter
		at   string
		want bool
	}{
		// New York: EDT starts Sunday 2025-03-09 02:00 local (07:00 UTC).
		{ny, "2025-03-07T13:30:00Z", false}, // Fri 08:30 EST
		{ny, "2025-03-07T14:30:00Z", true},  // Fri 09:30 EST
		{ny, "2025-03-10T13:30:00Z", true},  // Mon 09:30 EDT: same UTC clock, now in hours
		{ny, "2025-03-10T21:30:00Z", false}, // Mon 17:30 EDT
		{ny, "2025-03-07T21:30:00Z", true},  // Fri 16:30 EST
		// EDT ends Sunday 2025-11-02 02:00 local (06:00 UTC).
		{ny, "2025-10-31T13:30:00Z", true},  // Fri 09:30 EDT
		{ny, "2025-11-03T13:30:00Z", false}, // Mon 08:30 EST
		{ny, "2025-11-03T14:00:00Z", true},  // Mon 09:00 EST
		{ny, "2025-11-03T21:59:00Z", true},  // Mon 16:59 EST
		{ny, "2025-11-01T14:00:00Z", false}, // Saturday
		// London: BST from 2025-03-30 01:00 UTC to 2025-10-26 01:00 UTC.
		{london, "2025-03-28T08:30:00Z", false}, // Fri 08:30 GMT
		{london, "2025-03-31T08:30:00Z", true},  // Mon 09:30 BST
		{london, "2025-03-31T16:15:00Z", true},  // Mon 17:15 BST
		{london, "2025-03-31T16:30:00Z", false}, // Mon 17:30 BST
		{london, "2025-10-24T08:00:00Z", true},  // Fri 09:00 BST
		{london, "2025-10-27T08:30:00Z", false}, // Mon 08:30 GMT
		{london, "2025-10-27T09:00:00Z", true},  // Mon 09:00 GMT
		{london, "2025-10-27T17:15:00Z", true},  // Mon 17:15 GMT
	}
	for _, c := range cases {
		t.Run(c.f.String()+"@"+c.at, func(t *testing.T) {
			check(t, c.f, event(t, "call.completed", utc(c.at), nil), c.want)
		})
	}
}

func TestTimeZoneEdges(t *testing.T) {
	cases := []struct {
		filter string
		at     string
		want   bool
	}{
		// The skipped hour: 02:00–03:00 doesn't exist on 2025-03-09 in New York.
		{`time.hour = 1 tz "America/New_York"`, "2025-03-09T06:59:00Z", true},
		{`time.hour = 3 tz "America/New_York"`, "2025-03-09T07:00:00Z", true},
		{`time.hour = 2 tz "America/New_York"`, "2025-03-09T07:00:00Z", false},
		// The repeated hour: 01:00–02:00 happens twice on 2025-11-02.
		{`time.clock = "01:30" tz "America/New_York"`, "2025-11-02T05:30:00Z", true}, // EDT
		{`time.clock = "01:30" tz "America/New_York"`, "2025-11-02T06:30:00Z", true}, // EST
		{`time.clock = "01:30" tz "America/New_York"`, "2025-11-02T07:30:00Z", false},
		// London's change: 01:00 GMT becomes 02:00 BST.
		{`time.clock = "00:59" tz "Europe/London"`, "2025-03-30T00:59:00Z", true},
		{`time.clock = "02:00" tz "Europe/London"`, "2025-03-30T01:00:00Z", true},
		{`time.clock = "01:30" tz "Europe/London"`, "2025-10-26T00:30:00Z", true}, // BST
		{`time.clock = "01:30" tz "Europe/London"`, "2025-10-26T01:30:00Z", true}, // GMT
		// Days and dates change with the zone.
		{`time.weekday = mon tz "Europe/London"`, "2025-06-01T23:30:00Z", true},
		{`time.weekday = sun`, "2025-06-01T23:30:00Z", true},
		{`time.date = "2025-12-31" tz "America/Los_Angeles"`, "2026-01-01T05:00:00Z", true},
		{`time.month = dec tz "UTC" and time.day = 31 tz "America/Los_Angeles"`, "2026-01-01T05:00:00Z", false}, // explicit zones may differ
		{`tz "America/Los_Angeles"; time.month = dec and time.day = 31`, "2026-01-01T05:00:00Z", true},
		// Half-hour and southern-hemisphere zones.
		{`time.clock = "09:15" tz "Asia/Kolkata"`, "2025-01-06T03:45:00Z", true},
		{`time.hour = 10 tz "Australia/Sydney"`, "2025-01-06T23:00:00Z", true}, // AEDT +11
		{`time.hour = 9 tz "Australia/Sydney"`, "2025-07-06T23:00:00Z", true},  // AEST +10
		{`time.hour = 12 tz "Asia/Kathmandu" and time.minute = 45 tz "Asia/Kathmandu"`, "2025-07-07T07:00:00Z", true},
	}
	for _, c := range cases {
		t.Run(c.filter+"@"+c.at, func(t *testing.T) {
			f, err := Parse(c.filter)
			if err != nil {
				t.Fatal(err)
			}
			check(t, f, event(t, "call.completed", utc(c.at), nil), c.want)
		})
	}
}
