// The message of libphonenumber's phonenumber.proto (proto2; Copyright (C)
// 2009 The Libphonenumber Authors, Apache License 2.0) as a plain Go
// struct, with the fields and getters of the protoc-gen-go type of
// nyaruka/phonenumbers v1.8.1 (phonenumber.pb.go). Numbers are only ever
// built by Parse here, never encoded, so there is no wire code.
package phonenumbers

// The source from which the country_code is derived. This is not set in the
// general parsing method, but in the method that parses and keeps raw_input.
type PhoneNumber_CountryCodeSource int32

const (
	// Default value returned if this is not set, because the phone number was
	// created using parse, not parseAndKeepRawInput.
	PhoneNumber_UNSPECIFIED PhoneNumber_CountryCodeSource = 0
	// The country_code is derived based on a phone number with a leading "+",
	// e.g. the French number "+33 1 42 68 53 00".
	PhoneNumber_FROM_NUMBER_WITH_PLUS_SIGN PhoneNumber_CountryCodeSource = 1
	// The country_code is derived based on a phone number with a leading IDD,
	// e.g. the French number "011 33 1 42 68 53 00", as it is dialled from US.
	PhoneNumber_FROM_NUMBER_WITH_IDD PhoneNumber_CountryCodeSource = 5
	// The country_code is derived based on a phone number without a leading
	// "+", e.g. the French number "33 1 42 68 53 00" when defaultCountry is
	// supplied as France.
	PhoneNumber_FROM_NUMBER_WITHOUT_PLUS_SIGN PhoneNumber_CountryCodeSource = 10
	// The country_code is derived NOT based on the phone number itself, but
	// from the defaultCountry parameter provided in the parsing function by the
	// clients. This happens mostly for numbers written in the national format
	// (without country code). For example, this would be set when parsing the
	// French number "01 42 68 53 00", when defaultCountry is supplied as
	// France.
	PhoneNumber_FROM_DEFAULT_COUNTRY PhoneNumber_CountryCodeSource = 20
)

// PhoneNumber is a parsed number. Unset fields are nil; the getters give
// the proto2 defaults.
type PhoneNumber struct {
	// The country calling code for this number, as defined by the International
	// Telecommunication Union (ITU). For example, this would be 1 for NANPA
	// countries, and 33 for France.
	CountryCode *int32
	// The National (significant) Number, as defined in International
	// Telecommunication Union (ITU) Recommendation E.164, without any leading
	// zero. The leading-zero is stored separately if required, since this is an
	// uint64 and hence cannot store such information. Do not use this field
	// directly: if you want the national significant number, call
	// GetNationalSignificantNumber.
	NationalNumber *uint64
	// Extension is not standardized in ITU recommendations, except for being
	// defined as a series of numbers with a maximum length of 40 digits. It is
	// defined as a string here to accommodate for the possible use of a leading
	// zero in the extension.
	Extension *string
	// In some countries, the national (significant) number starts with one or
	// more "0"s without this being a national prefix or trunk code of some kind.
	// For example, the leading zero in the national (significant) number of an
	// Italian phone number indicates the number is a fixed-line number.
	ItalianLeadingZero   *bool
	NumberOfLeadingZeros *int32 // [default = 1]
	// This field is used to store the raw input string containing phone numbers
	// before it was canonicalized by the library.
	RawInput *string
	// The source from which the country_code is derived.
	CountryCodeSource *PhoneNumber_CountryCodeSource
	// The carrier selection code that is preferred when calling this phone number
	// domestically.
	PreferredDomesticCarrierCode *string
}

// Default values for PhoneNumber fields.
const (
	Default_PhoneNumber_NumberOfLeadingZeros = int32(1)
)

func (x *PhoneNumber) GetCountryCode() int32 {
	if x != nil && x.CountryCode != nil {
		return *x.CountryCode
	}
	return 0
}

func (x *PhoneNumber) GetNationalNumber() uint64 {
	if x != nil && x.NationalNumber != nil {
		return *x.NationalNumber
	}
	return 0
}

func (x *PhoneNumber) GetExtension() string {
	if x != nil && x.Extension != nil {
		return *x.Extension
	}
	return ""
}

func (x *PhoneNumber) GetItalianLeadingZero() bool {
	if x != nil && x.ItalianLeadingZero != nil {
		return *x.ItalianLeadingZero
	}
	return false
}

func (x *PhoneNumber) GetNumberOfLeadingZeros() int32 {
	if x != nil && x.NumberOfLeadingZeros != nil {
		return *x.NumberOfLeadingZeros
	}
	return Default_PhoneNumber_NumberOfLeadingZeros
}

func (x *PhoneNumber) GetRawInput() string {
	if x != nil && x.RawInput != nil {
		return *x.RawInput
	}
	return ""
}

// ptr returns a pointer to a copy of v; it stands for proto.Int32,
// proto.String and the like.
func ptr[T any](v T) *T { return &v }
