// Port of metadata/source/* + MetadataLoader from google/libphonenumber,
// by way of github.com/nyaruka/phonenumbers v1.8.1 (metadatasource.go,
// metadata.go). Changed here: the metadata is loaded on first use, once,
// instead of in package init, and decoded by decodeMetadataCollection
// instead of the protobuf runtime; upstream's seam for swapping in test
// metadata is gone.
// Last reconciled against: v9.0.32
package phonenumbers

import (
	_ "embed"
	"sync"
	"sync/atomic"
)

// The territory metadata (a gzipped PhoneMetadataCollection in protobuf
// wire format) and the map from calling codes to regions (gzipped, in the
// format of loadIntArrayMap), both exactly as nyaruka/phonenumbers v1.8.1
// ships them. The names are upstream's.

//go:embed data/countrycode_to_region.xml.gz
var regionData []byte

//go:embed data/metadata.xml.gz
var numberData []byte

// metadataContainer bundles all of the metadata-derived lookup state used
// by the library.
type metadataContainer struct {
	// A map from country code (as integer) to two letter region codes.
	countryCodeToRegion map[int][]string

	// A mapping from a region code to the PhoneMetadata for that region.
	regionToMetadataMap map[string]*PhoneMetadata

	// A mapping from a country calling code for a non-geographical entity to
	// the PhoneMetadata for that country calling code. Examples of the country
	// calling codes include 800 (International Toll Free Service) and 808
	// (International Shared Cost Service).
	countryCodeToNonGeographicalMetadataMap map[int]*PhoneMetadata

	// The set of regions the library supports.
	supportedRegions map[string]bool
}

// loads counts metadata loads, for tests: 0 until the first use, then 1.
var loads atomic.Int32

// LoadCount reports how many times the metadata has been loaded: 0 until
// a function of the package first needs it, then 1, for good.
func LoadCount() int { return int(loads.Load()) }

// metadata returns the metadata, loading it on the first call. Every
// function that reads metadata goes through it; concurrent first calls
// wait for the one load. The embedded data is part of the build, so
// failing to decode it is a bug and panics, as upstream's init does.
var metadata = sync.OnceValue(func() *metadataContainer {
	loads.Add(1)
	mc, err := loadMetadata(regionData, numberData)
	if err != nil {
		panic("phonenumbers: embedded metadata: " + err.Error())
	}
	return mc
})

// loadMetadata decodes the two embedded files into a container.
func loadMetadata(regionData, numberData []byte) (*metadataContainer, error) {
	// load our regions
	regionMap, err := loadIntArrayMap(regionData)
	if err != nil {
		return nil, err
	}

	// then our metadata
	rawBytes, err := decodeUnzip(numberData)
	if err != nil {
		return nil, err
	}
	coll, err := decodeMetadataCollection(string(rawBytes))
	if err != nil {
		return nil, err
	}
	return newMetadataContainer(coll, regionMap.Map)
}

// newMetadataContainer builds a fully populated metadataContainer from a parsed
// metadata collection and a country-code-to-region map.
func newMetadataContainer(coll *PhoneMetadataCollection, countryCodeToRegion map[int][]string) (*metadataContainer, error) {
	metadataList := coll.GetMetadata()
	if len(metadataList) == 0 {
		return nil, ErrEmptyMetadata
	}

	mc := &metadataContainer{
		countryCodeToRegion:                     countryCodeToRegion,
		regionToMetadataMap:                     make(map[string]*PhoneMetadata),
		countryCodeToNonGeographicalMetadataMap: make(map[int]*PhoneMetadata),
		supportedRegions:                        make(map[string]bool, 320),
	}

	for _, meta := range metadataList {
		region := meta.GetId()
		if region == "001" {
			// it's a non geographical entity
			mc.countryCodeToNonGeographicalMetadataMap[int(meta.GetCountryCode())] = meta
		} else {
			mc.regionToMetadataMap[region] = meta
		}
	}

	for _, regionCodes := range countryCodeToRegion {
		// We can assume that if the county calling code maps to the
		// non-geo entity region code then that's the only region code
		// it maps to.
		if len(regionCodes) == 1 && REGION_CODE_FOR_NON_GEO_ENTITY == regionCodes[0] {
			continue
		}
		// The supported regions set does not include the "001"
		// non-geo entity region code.
		for _, val := range regionCodes {
			mc.supportedRegions[val] = true
		}
	}
	// If the non-geo entity still got added to the set of supported regions it
	// must be because there are entries that list the non-geo entity alongside
	// normal regions (which is wrong). If we discover this, remove the non-geo
	// entity from the set of supported regions.
	delete(mc.supportedRegions, REGION_CODE_FOR_NON_GEO_ENTITY)

	return mc, nil
}

func readFromRegionToMetadataMap(key string) (*PhoneMetadata, bool) {
	v, ok := metadata().regionToMetadataMap[key]
	return v, ok
}

func readFromCountryCodeToNonGeographicalMetadataMap(key int) (*PhoneMetadata, bool) {
	v, ok := metadata().countryCodeToNonGeographicalMetadataMap[key]
	return v, ok
}
