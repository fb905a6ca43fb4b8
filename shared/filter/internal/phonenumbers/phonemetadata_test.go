package phonenumbers

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// Encoding helpers for hand-built messages.
func tag(num, typ int) []byte { return binary.AppendUvarint(nil, uint64(num<<3|typ)) }

func varintField(num int, v uint64) []byte {
	return binary.AppendUvarint(tag(num, wireVarint), v)
}

func bytesField(num int, b []byte) []byte {
	return append(binary.AppendUvarint(tag(num, wireBytes), uint64(len(b))), b...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestDecodeMetadata(t *testing.T) {
	packed := binary.AppendUvarint(binary.AppendUvarint(nil, 7), 10)
	desc := cat(
		bytesField(2, []byte(`[2-9]\d{9}`)),
		varintField(9, 10),                  // unpacked possible_length
		bytesField(9, packed),               // packed possible_length
		varintField(10, 0xffffffffffffffff), // -1, as int32 encodes it
		bytesField(6, []byte("2015550123")),
	)
	format := cat(bytesField(1, []byte(`(\d{3})(\d{4})`)), bytesField(2, []byte("$1-$2")),
		bytesField(3, []byte("[2-9]")), bytesField(3, []byte("[2-9]1")), varintField(6, 1))
	md := cat(
		bytesField(9, []byte("US")),
		varintField(10, 1),
		bytesField(1, desc),
		bytesField(1, bytesField(6, []byte("2125550100"))), // a second occurrence merges
		varintField(18, 1),
		bytesField(19, format),
		bytesField(19, format),
		bytesField(27, desc),                     // emergency: skipped
		append(tag(99, wireFixed32), 1, 2, 3, 4), // unknown fields: skipped
		append(tag(98, wireFixed64), 1, 2, 3, 4, 5, 6, 7, 8),
		varintField(97, 300),
		bytesField(11, []byte("011")),
	)
	c, err := decodeMetadataCollection(string(cat(bytesField(1, md), bytesField(1, bytesField(9, []byte("CA"))))))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Metadata) != 2 || c.Metadata[1].GetId() != "CA" {
		t.Fatalf("got %d messages", len(c.Metadata))
	}
	m := c.Metadata[0]
	wantDesc := &PhoneNumberDesc{
		NationalNumberPattern:   ptr(`[2-9]\d{9}`),
		ExampleNumber:           ptr("2125550100"),
		PossibleLength:          []int32{10, 7, 10},
		PossibleLengthLocalOnly: []int32{-1},
	}
	wantFormat := &NumberFormat{Pattern: ptr(`(\d{3})(\d{4})`), Format: ptr("$1-$2"), LeadingDigitsPattern: []string{"[2-9]", "[2-9]1"}}
	want := &PhoneMetadata{
		Id: ptr("US"), CountryCode: ptr[int32](1), GeneralDesc: wantDesc,
		SameMobileAndFixedLinePattern: ptr(true), NumberFormat: []*NumberFormat{wantFormat, wantFormat},
		InternationalPrefix: ptr("011"),
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
	if m.GetFixedLine().GetNationalNumberPattern() != "" || m.GetLeadingDigits() != "" {
		t.Error("unset fields are not empty")
	}
}

func TestDecodeMetadataErrors(t *testing.T) {
	md := bytesField(9, []byte("US"))
	for name, b := range map[string][]byte{
		"truncated message":  bytesField(1, md)[:len(md)],
		"truncated varint":   {0x08, 0x80},
		"field zero":         varintField(0, 1),
		"group":              cat(tag(5, 3), tag(5, 4)),
		"string as varint":   bytesField(1, varintField(9, 1)),
		"message as varint":  varintField(1, 1),
		"bad packed varint":  bytesField(1, bytesField(1, bytesField(9, []byte{0x80}))),
		"truncated fixed64":  append(tag(7, wireFixed64), 1, 2),
		"length beyond data": {0x0a, 0x05, 0x01},
	} {
		if _, err := decodeMetadataCollection(string(b)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := loadMetadata(regionData, []byte("not gzip")); err == nil {
		t.Error("bad gzip: no error")
	}
}
