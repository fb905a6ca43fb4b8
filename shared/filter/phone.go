package filter

import (
	"sync"

	"github.com/phoneshield/webhooks/shared/filter/internal/phonenumbers"
)

// phoneInfo is what libphonenumber derives from an E.164 number.
type phoneInfo struct {
	region   string // ISO 3166 alpha-2, "" when not known
	areaCode string // national destination code, "" when none
}

// Deriving a number's region and area code costs tens of µs, and the same
// numbers (an account's PhoneShield number, repeat callers) recur, so the
// results are cached, bounded: the cache is emptied when it is full.
const phoneCacheMax = 8192

var phoneCache struct {
	sync.RWMutex
	m map[string]phoneInfo
}

// lookupPhone derives the region and area code of number.
func lookupPhone(number string) phoneInfo {
	if !isE164(number) {
		return phoneInfo{}
	}
	phoneCache.RLock()
	info, ok := phoneCache.m[number]
	phoneCache.RUnlock()
	if ok {
		return info
	}
	info = derivePhone(number)
	phoneCache.Lock()
	if phoneCache.m == nil || len(phoneCache.m) >= phoneCacheMax {
		phoneCache.m = make(map[string]phoneInfo, 64)
	}
	phoneCache.m[number] = info
	phoneCache.Unlock()
	return info
}

func derivePhone(number string) phoneInfo {
	n, err := phonenumbers.Parse(number, "ZZ")
	if err != nil {
		return phoneInfo{}
	}
	var info phoneInfo
	// The region of the number itself, which for shared calling codes (+1,
	// +7, +44, ...) libphonenumber decides by number ranges: +1 416 is CA.
	// It is "" when no region of a shared code claims the number.
	info.region = phonenumbers.GetRegionCodeForNumber(n)
	if info.region == "001" || info.region == phonenumbers.UNKNOWN_REGION {
		info.region = "" // non-geographic numbers (+800, ...)
	}
	if l := phonenumbers.GetLengthOfNationalDestinationCode(n); l > 0 {
		nsn := phonenumbers.GetNationalSignificantNumber(n)
		if l <= len(nsn) {
			info.areaCode = nsn[:l]
		}
	}
	return info
}
