// Package phonenumbers is a cut-down fork of github.com/nyaruka/phonenumbers
// v1.8.1 (MIT, see LICENSE), the Go port of Google's libphonenumber (Apache
// License 2.0), whose metadata it embeds: libphonenumber 9.0.32 as
// nyaruka/phonenumbers v1.8.1 ships it, byte for byte (data/). It keeps
// what package filter needs — [Parse], [GetRegionCodeForNumber],
// [GetLengthOfNationalDestinationCode] (with the international formatting
// it relies on), [GetNationalSignificantNumber], [GetNumberType] and
// [GetSupportedRegions] — with upstream's code for them, in upstream's
// order, so that a diff against upstream shows only the changes below.
//
// # Why a fork
//
// Upstream decodes all of its metadata and compiles about twenty regular
// expressions in package init (~20 ms and ~2.5 MB of heap in every process
// that links it, used or not), decodes the metadata with the protobuf
// reflection runtime (google.golang.org/protobuf), and imports
// golang.org/x/text/language/display for geocoding: together ~7.5 MB of
// an arm64 Lambda binary. Here, ~0.15 MB and ~0.2 ms of init:
//
//   - the metadata is decoded once, on the first call that needs it
//     (a sync.OnceValue; concurrent first callers wait for the one load),
//     and [LoadCount] reports whether that has happened, for tests;
//   - the package-level regular expressions compile on first use;
//   - the proto messages are plain structs (phonemetadata.go,
//     phonenumber.go) with the generated getters, and a small decoder of
//     the protobuf wire format reads the embedded collection, so neither
//     google.golang.org/protobuf nor golang.org/x/text is linked;
//   - dropped: carrier, geocoding and time zone data and lookups, short
//     numbers, the number matcher, the XML metadata builder, formatting
//     other than what the national destination code needs, example-number
//     lookups, number comparison, and the proto fields nothing here reads.
//
// Results agree with upstream v1.8.1: testdata/derived.txt holds the
// region and national destination code upstream derives for every example
// number in the metadata and for pseudo-random numbers of every calling
// code, and the tests check the fork against it.
//
// # Updating
//
// To take newer metadata, copy data/metadata.xml.gz and
// data/countrycode_to_region.xml.gz from a nyaruka/phonenumbers release,
// port any change to the kept functions (upstream's files say which
// libphonenumber version they were last reconciled against), and
// regenerate testdata/derived.txt with that release: for each number,
// upstream's Parse(number, "ZZ"), GetRegionCodeForNumber and the first
// GetLengthOfNationalDestinationCode digits of GetNationalSignificantNumber.
// If a release adds a proto field that the kept code reads, add it to the
// struct and to its decoder.
package phonenumbers
