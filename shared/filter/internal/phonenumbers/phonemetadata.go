// The messages of libphonenumber's phonemetadata.proto (proto2; Copyright
// (C) 2009 The Libphonenumber Authors, Apache License 2.0) as plain Go
// structs, with the fields and getters of the protoc-gen-go types that
// nyaruka/phonenumbers v1.8.1 uses (phonemetadata.pb.go), and a decoder
// of their wire format that replaces proto.Unmarshal.
//
// Only the fields this package reads are kept; the decoder skips the
// others, as a protobuf decoder skips unknown fields. Field numbers are
// the .proto's.
package phonenumbers

import (
	"errors"
	"fmt"
)

// NumberFormat is the proto message NumberFormat.
type NumberFormat struct {
	Pattern                           *string  // 1
	Format                            *string  // 2
	LeadingDigitsPattern              []string // 3
	NationalPrefixFormattingRule      *string  // 4
	DomesticCarrierCodeFormattingRule *string  // 5
	// 6, national_prefix_optional_when_formatting: skipped.
}

func (x *NumberFormat) GetPattern() string {
	if x != nil && x.Pattern != nil {
		return *x.Pattern
	}
	return ""
}

func (x *NumberFormat) GetFormat() string {
	if x != nil && x.Format != nil {
		return *x.Format
	}
	return ""
}

func (x *NumberFormat) GetLeadingDigitsPattern() []string {
	if x != nil {
		return x.LeadingDigitsPattern
	}
	return nil
}

func (x *NumberFormat) GetNationalPrefixFormattingRule() string {
	if x != nil && x.NationalPrefixFormattingRule != nil {
		return *x.NationalPrefixFormattingRule
	}
	return ""
}

func (x *NumberFormat) GetDomesticCarrierCodeFormattingRule() string {
	if x != nil && x.DomesticCarrierCodeFormattingRule != nil {
		return *x.DomesticCarrierCodeFormattingRule
	}
	return ""
}

// PhoneNumberDesc is the proto message PhoneNumberDesc.
type PhoneNumberDesc struct {
	NationalNumberPattern   *string // 2
	ExampleNumber           *string // 6
	PossibleLength          []int32 // 9
	PossibleLengthLocalOnly []int32 // 10
}

func (x *PhoneNumberDesc) GetNationalNumberPattern() string {
	if x != nil && x.NationalNumberPattern != nil {
		return *x.NationalNumberPattern
	}
	return ""
}

func (x *PhoneNumberDesc) GetExampleNumber() string {
	if x != nil && x.ExampleNumber != nil {
		return *x.ExampleNumber
	}
	return ""
}

func (x *PhoneNumberDesc) GetPossibleLength() []int32 {
	if x != nil {
		return x.PossibleLength
	}
	return nil
}

func (x *PhoneNumberDesc) GetPossibleLengthLocalOnly() []int32 {
	if x != nil {
		return x.PossibleLengthLocalOnly
	}
	return nil
}

// PhoneMetadata is the proto message PhoneMetadata. Skipped fields:
// emergency (27), short_code (29), standard_rate (30), carrier_specific
// (31), sms_services (33), no_international_dialling (24),
// preferred_international_prefix (17), national_prefix (12),
// main_country_for_code (22), leading_zero_possible (26) and
// mobile_number_portable_region (32).
type PhoneMetadata struct {
	GeneralDesc                   *PhoneNumberDesc // 1
	FixedLine                     *PhoneNumberDesc // 2
	Mobile                        *PhoneNumberDesc // 3
	TollFree                      *PhoneNumberDesc // 4
	PremiumRate                   *PhoneNumberDesc // 5
	SharedCost                    *PhoneNumberDesc // 6
	PersonalNumber                *PhoneNumberDesc // 7
	Voip                          *PhoneNumberDesc // 8
	Pager                         *PhoneNumberDesc // 21
	Uan                           *PhoneNumberDesc // 25
	Voicemail                     *PhoneNumberDesc // 28
	Id                            *string          // 9
	CountryCode                   *int32           // 10
	InternationalPrefix           *string          // 11
	PreferredExtnPrefix           *string          // 13
	NationalPrefixForParsing      *string          // 15
	NationalPrefixTransformRule   *string          // 16
	SameMobileAndFixedLinePattern *bool            // 18
	NumberFormat                  []*NumberFormat  // 19
	IntlNumberFormat              []*NumberFormat  // 20
	LeadingDigits                 *string          // 23
}

func (x *PhoneMetadata) GetGeneralDesc() *PhoneNumberDesc {
	if x != nil {
		return x.GeneralDesc
	}
	return nil
}

func (x *PhoneMetadata) GetFixedLine() *PhoneNumberDesc {
	if x != nil {
		return x.FixedLine
	}
	return nil
}

func (x *PhoneMetadata) GetMobile() *PhoneNumberDesc {
	if x != nil {
		return x.Mobile
	}
	return nil
}

func (x *PhoneMetadata) GetTollFree() *PhoneNumberDesc {
	if x != nil {
		return x.TollFree
	}
	return nil
}

func (x *PhoneMetadata) GetPremiumRate() *PhoneNumberDesc {
	if x != nil {
		return x.PremiumRate
	}
	return nil
}

func (x *PhoneMetadata) GetSharedCost() *PhoneNumberDesc {
	if x != nil {
		return x.SharedCost
	}
	return nil
}

func (x *PhoneMetadata) GetPersonalNumber() *PhoneNumberDesc {
	if x != nil {
		return x.PersonalNumber
	}
	return nil
}

func (x *PhoneMetadata) GetVoip() *PhoneNumberDesc {
	if x != nil {
		return x.Voip
	}
	return nil
}

func (x *PhoneMetadata) GetPager() *PhoneNumberDesc {
	if x != nil {
		return x.Pager
	}
	return nil
}

func (x *PhoneMetadata) GetUan() *PhoneNumberDesc {
	if x != nil {
		return x.Uan
	}
	return nil
}

func (x *PhoneMetadata) GetVoicemail() *PhoneNumberDesc {
	if x != nil {
		return x.Voicemail
	}
	return nil
}

func (x *PhoneMetadata) GetId() string {
	if x != nil && x.Id != nil {
		return *x.Id
	}
	return ""
}

func (x *PhoneMetadata) GetCountryCode() int32 {
	if x != nil && x.CountryCode != nil {
		return *x.CountryCode
	}
	return 0
}

func (x *PhoneMetadata) GetInternationalPrefix() string {
	if x != nil && x.InternationalPrefix != nil {
		return *x.InternationalPrefix
	}
	return ""
}

func (x *PhoneMetadata) GetPreferredExtnPrefix() string {
	if x != nil && x.PreferredExtnPrefix != nil {
		return *x.PreferredExtnPrefix
	}
	return ""
}

func (x *PhoneMetadata) GetNationalPrefixForParsing() string {
	if x != nil && x.NationalPrefixForParsing != nil {
		return *x.NationalPrefixForParsing
	}
	return ""
}

func (x *PhoneMetadata) GetNationalPrefixTransformRule() string {
	if x != nil && x.NationalPrefixTransformRule != nil {
		return *x.NationalPrefixTransformRule
	}
	return ""
}

// GetSameMobileAndFixedLinePattern is false when unset ([default=false]).
func (x *PhoneMetadata) GetSameMobileAndFixedLinePattern() bool {
	if x != nil && x.SameMobileAndFixedLinePattern != nil {
		return *x.SameMobileAndFixedLinePattern
	}
	return false
}

func (x *PhoneMetadata) GetNumberFormat() []*NumberFormat {
	if x != nil {
		return x.NumberFormat
	}
	return nil
}

func (x *PhoneMetadata) GetIntlNumberFormat() []*NumberFormat {
	if x != nil {
		return x.IntlNumberFormat
	}
	return nil
}

func (x *PhoneMetadata) GetLeadingDigits() string {
	if x != nil && x.LeadingDigits != nil {
		return *x.LeadingDigits
	}
	return ""
}

// PhoneMetadataCollection is the proto message PhoneMetadataCollection.
type PhoneMetadataCollection struct {
	Metadata []*PhoneMetadata // 1
}

func (x *PhoneMetadataCollection) GetMetadata() []*PhoneMetadata {
	if x != nil {
		return x.Metadata
	}
	return nil
}

// ---- wire format ----

// The protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

var errTruncated = errors.New("truncated protobuf data")

// wire reads protobuf wire format from a string, so that the strings it
// decodes are substrings of the one input, not allocations of their own.
type wire struct{ b string }

func (w *wire) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10 && i < len(w.b); i++ {
		c := w.b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			w.b = w.b[i+1:]
			return v, nil
		}
	}
	return 0, errTruncated
}

// field reads a field's tag: its number and wire type.
func (w *wire) field() (num int, typ int, err error) {
	t, err := w.varint()
	if err != nil {
		return 0, 0, err
	}
	if t>>3 == 0 || t>>3 > 1<<29-1 {
		return 0, 0, fmt.Errorf("bad protobuf field number %d", t>>3)
	}
	return int(t >> 3), int(t & 7), nil
}

func (w *wire) bytes() (string, error) {
	n, err := w.varint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(w.b)) {
		return "", errTruncated
	}
	b := w.b[:n]
	w.b = w.b[n:]
	return b, nil
}

// skip skips a field's value of wire type typ.
func (w *wire) skip(typ int) error {
	n := 0
	switch typ {
	case wireVarint:
		_, err := w.varint()
		return err
	case wireBytes:
		_, err := w.bytes()
		return err
	case wireFixed64:
		n = 8
	case wireFixed32:
		n = 4
	default: // groups (3, 4), long deprecated, and invalid types
		return fmt.Errorf("unsupported protobuf wire type %d", typ)
	}
	if len(w.b) < n {
		return errTruncated
	}
	w.b = w.b[n:]
	return nil
}

// want checks a known field's wire type.
func want(num, typ, wantTyp int) error {
	if typ != wantTyp {
		return fmt.Errorf("protobuf field %d has wire type %d, want %d", num, typ, wantTyp)
	}
	return nil
}

func (w *wire) string(num, typ int) (*string, error) {
	if err := want(num, typ, wireBytes); err != nil {
		return nil, err
	}
	s, err := w.bytes()
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// int32s appends the values of a repeated int32 field, packed or not.
func (w *wire) int32s(dst []int32, num, typ int) ([]int32, error) {
	if typ == wireBytes { // packed
		b, err := w.bytes()
		if err != nil {
			return nil, err
		}
		p := wire{b}
		for len(p.b) > 0 {
			v, err := p.varint()
			if err != nil {
				return nil, err
			}
			dst = append(dst, int32(v))
		}
		return dst, nil
	}
	if err := want(num, typ, wireVarint); err != nil {
		return nil, err
	}
	v, err := w.varint()
	return append(dst, int32(v)), err
}

// message decodes a length-delimited message into m, merging (as protobuf
// does for a repeated occurrence of a message field).
func message[T any](w *wire, num, typ int, m *T, decode func(*T, string) error) (*T, error) {
	if err := want(num, typ, wireBytes); err != nil {
		return nil, err
	}
	b, err := w.bytes()
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = new(T)
	}
	return m, decode(m, b)
}

// decodeMetadataCollection decodes a PhoneMetadataCollection.
func decodeMetadataCollection(b string) (*PhoneMetadataCollection, error) {
	c := &PhoneMetadataCollection{}
	w := wire{b}
	for len(w.b) > 0 {
		num, typ, err := w.field()
		if err != nil {
			return nil, err
		}
		if num != 1 {
			err = w.skip(typ)
		} else {
			var m *PhoneMetadata
			if m, err = message(&w, num, typ, nil, decodePhoneMetadata); err == nil {
				c.Metadata = append(c.Metadata, m)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func decodePhoneMetadata(m *PhoneMetadata, b string) error {
	w := wire{b}
	for len(w.b) > 0 {
		num, typ, err := w.field()
		if err != nil {
			return err
		}
		desc := func(d **PhoneNumberDesc) { *d, err = message(&w, num, typ, *d, decodePhoneNumberDesc) }
		format := func(f *[]*NumberFormat) {
			var nf *NumberFormat
			if nf, err = message(&w, num, typ, nil, decodeNumberFormat); err == nil {
				*f = append(*f, nf)
			}
		}
		switch num {
		case 1:
			desc(&m.GeneralDesc)
		case 2:
			desc(&m.FixedLine)
		case 3:
			desc(&m.Mobile)
		case 4:
			desc(&m.TollFree)
		case 5:
			desc(&m.PremiumRate)
		case 6:
			desc(&m.SharedCost)
		case 7:
			desc(&m.PersonalNumber)
		case 8:
			desc(&m.Voip)
		case 21:
			desc(&m.Pager)
		case 25:
			desc(&m.Uan)
		case 28:
			desc(&m.Voicemail)
		case 9:
			m.Id, err = w.string(num, typ)
		case 10:
			if err = want(num, typ, wireVarint); err == nil {
				var v uint64
				v, err = w.varint()
				m.CountryCode = ptr(int32(v))
			}
		case 11:
			m.InternationalPrefix, err = w.string(num, typ)
		case 13:
			m.PreferredExtnPrefix, err = w.string(num, typ)
		case 15:
			m.NationalPrefixForParsing, err = w.string(num, typ)
		case 16:
			m.NationalPrefixTransformRule, err = w.string(num, typ)
		case 18:
			if err = want(num, typ, wireVarint); err == nil {
				var v uint64
				v, err = w.varint()
				m.SameMobileAndFixedLinePattern = ptr(v != 0)
			}
		case 19:
			format(&m.NumberFormat)
		case 20:
			format(&m.IntlNumberFormat)
		case 23:
			m.LeadingDigits, err = w.string(num, typ)
		default:
			err = w.skip(typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodePhoneNumberDesc(d *PhoneNumberDesc, b string) error {
	w := wire{b}
	for len(w.b) > 0 {
		num, typ, err := w.field()
		if err != nil {
			return err
		}
		switch num {
		case 2:
			d.NationalNumberPattern, err = w.string(num, typ)
		case 6:
			d.ExampleNumber, err = w.string(num, typ)
		case 9:
			d.PossibleLength, err = w.int32s(d.PossibleLength, num, typ)
		case 10:
			d.PossibleLengthLocalOnly, err = w.int32s(d.PossibleLengthLocalOnly, num, typ)
		default:
			err = w.skip(typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeNumberFormat(f *NumberFormat, b string) error {
	w := wire{b}
	for len(w.b) > 0 {
		num, typ, err := w.field()
		if err != nil {
			return err
		}
		switch num {
		case 1:
			f.Pattern, err = w.string(num, typ)
		case 2:
			f.Format, err = w.string(num, typ)
		case 3:
			var s *string
			if s, err = w.string(num, typ); err == nil {
				f.LeadingDigitsPattern = append(f.LeadingDigitsPattern, *s)
			}
		case 4:
			f.NationalPrefixFormattingRule, err = w.string(num, typ)
		case 5:
			f.DomesticCarrierCodeFormattingRule, err = w.string(num, typ)
		default:
			err = w.skip(typ)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
