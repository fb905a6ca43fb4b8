package jsjson

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects accepted.
const MaxDepth = 512

// SyntaxError reports input that is not JSON, or nests deeper than MaxDepth.
type SyntaxError struct {
	Offset int    // byte offset in the input where the problem was found
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	return "jsjson: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// Canonical returns JSON.stringify(JSON.parse(raw)) as UTF-8 bytes, or a
// *SyntaxError.
func Canonical(raw []byte) ([]byte, error) {
	out, err := AppendCanonical(make([]byte, 0, len(raw)+len(raw)/64+16), raw)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendCanonical appends JSON.stringify(JSON.parse(raw)) to dst and returns
// the extended slice. dst's spare capacity must not overlap raw. On error
// it returns dst unchanged in length (bytes past it may have been written)
// and a *SyntaxError. It does not allocate beyond growing dst.
func AppendCanonical(dst, raw []byte) ([]byte, error) {
	p := parserPool.Get().(*parser)
	p.in, p.pos, p.out, p.depth = raw, 0, dst, 0
	n := len(dst)
	err := p.document()
	out := p.out
	p.in, p.out = nil, nil
	p.members = p.members[:0]
	if cap(p.scratch) > 1<<20 { // don't pin big buffers in the pool
		p.scratch = nil
	}
	if cap(p.members) > 4096 {
		p.members = nil
	}
	parserPool.Put(p)
	if err != nil {
		return out[:n], err
	}
	return out, nil
}

var parserPool = sync.Pool{New: func() any { return new(parser) }}

// member is one key/value pair of the object being parsed, as offsets into
// the output: the key (quotes included) is out[key:colon], the value
// out[colon+1:end].
type member struct {
	key, colon, end int
	index           uint32 // the array index, when isIndex
	isIndex         bool
}

type parser struct {
	in      []byte
	pos     int
	out     []byte
	depth   int
	members []member // a stack: each open object owns a suffix
	scratch []byte   // reorder buffer
	order   []int32  // reorder scratch
	winner  []int32  // reorder scratch
	hashes  []keyHash
}

func (p *parser) fail(msg string) error { return &SyntaxError{Offset: p.pos, Msg: msg} }

func (p *parser) unexpected(what string) error {
	if p.pos >= len(p.in) {
		return p.fail("unexpected end of input " + what)
	}
	c := p.in[p.pos]
	var s string
	if c >= 0x20 && c < 0x7f {
		s = strconv.QuoteRune(rune(c))
	} else {
		s = "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
	return p.fail("unexpected " + s + " " + what)
}

func (p *parser) document() error {
	p.skipSpace()
	if err := p.value(); err != nil {
		return err
	}
	p.skipSpace()
	if p.pos < len(p.in) {
		return p.unexpected("after top-level value")
	}
	return nil
}

func (p *parser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() error {
	if p.pos >= len(p.in) {
		return p.unexpected("looking for a value")
	}
	switch c := p.in[p.pos]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		return p.str()
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return p.number()
		}
		return p.unexpected("looking for a value")
	}
}

func (p *parser) literal(lit string) error {
	if len(p.in)-p.pos >= len(lit) && string(p.in[p.pos:p.pos+len(lit)]) == lit {
		p.out = append(p.out, lit...)
		p.pos += len(lit)
		return nil
	}
	for i := 0; i < len(lit); i++ {
		if p.pos >= len(p.in) || p.in[p.pos] != lit[i] {
			break
		}
		p.pos++
	}
	return p.unexpected("in literal " + lit)
}

func (p *parser) array() error {
	if p.depth++; p.depth > MaxDepth {
		return p.fail("nesting deeper than " + strconv.Itoa(MaxDepth))
	}
	p.pos++ // '['
	p.out = append(p.out, '[')
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		p.out = append(p.out, ']')
		p.depth--
		return nil
	}
	for {
		if err := p.value(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos < len(p.in) {
			switch p.in[p.pos] {
			case ',':
				p.pos++
				p.out = append(p.out, ',')
				p.skipSpace()
				continue
			case ']':
				p.pos++
				p.out = append(p.out, ']')
				p.depth--
				return nil
			}
		}
		return p.unexpected("after array element (want ',' or ']')")
	}
}

func (p *parser) object() error {
	if p.depth++; p.depth > MaxDepth {
		return p.fail("nesting deeper than " + strconv.Itoa(MaxDepth))
	}
	p.pos++ // '{'
	p.out = append(p.out, '{')
	body := len(p.out)
	base := len(p.members)
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		p.out = append(p.out, '}')
		p.depth--
		return nil
	}
	anyIndex := false
	for {
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return p.unexpected("looking for an object key")
		}
		if len(p.members) > base {
			p.out = append(p.out, ',')
		}
		m := member{key: len(p.out)}
		if err := p.str(); err != nil {
			return err
		}
		m.colon = len(p.out)
		m.index, m.isIndex = arrayIndex(p.out[m.key+1 : m.colon-1])
		anyIndex = anyIndex || m.isIndex
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return p.unexpected("after object key (want ':')")
		}
		p.pos++
		p.out = append(p.out, ':')
		p.skipSpace()
		if err := p.value(); err != nil {
			return err
		}
		m.end = len(p.out)
		p.members = append(p.members, m)
		p.skipSpace()
		if p.pos < len(p.in) {
			switch p.in[p.pos] {
			case ',':
				p.pos++
				p.skipSpace()
				continue
			case '}':
				p.pos++
				p.finishObject(body, base, anyIndex)
				p.members = p.members[:base]
				p.out = append(p.out, '}')
				p.depth--
				return nil
			}
		}
		return p.unexpected("after object member (want ',' or '}')")
	}
}

// arrayIndex reports whether the key text k (its canonical escaped form,
// which for a decimal string is the string itself) is an array index:
// "0".."4294967294" without leading zeros.
func arrayIndex(k []byte) (uint32, bool) {
	if len(k) == 0 || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return 0, false
	}
	var v uint64
	for _, c := range k {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > 4294967294 {
		return 0, false
	}
	return uint32(v), true
}

// finishObject puts the members written since body into V8's order and
// removes duplicate keys. Objects already in order are left untouched.
func (p *parser) finishObject(body, base int, anyIndex bool) {
	ms := p.members[base:]
	n := len(ms)
	if n < 2 {
		return
	}
	sorted := true
	if anyIndex {
		seenOther, prev, havePrev := false, uint32(0), false
		for i := range ms {
			m := &ms[i]
			if !m.isIndex {
				seenOther = true
				continue
			}
			if seenOther || havePrev && m.index <= prev {
				sorted = false
				break
			}
			prev, havePrev = m.index, true
		}
	}
	dups := p.findDuplicates(ms)
	if sorted && !dups {
		return
	}

	// winner[i] is, for the first occurrence i of a key, the member whose
	// value is kept (the last occurrence); -1 marks later occurrences.
	if !dups {
		p.winner = p.winner[:0]
		for i := range ms {
			p.winner = append(p.winner, int32(i))
		}
	}
	p.order = p.order[:0]
	for i := range ms {
		if p.winner[i] >= 0 && ms[i].isIndex {
			p.order = append(p.order, int32(i))
		}
	}
	slices.SortFunc(p.order, func(a, b int32) int {
		x, y := ms[a].index, ms[b].index
		if x < y {
			return -1
		}
		if x > y {
			return 1
		}
		return 0
	})
	for i := range ms {
		if p.winner[i] >= 0 && !ms[i].isIndex {
			p.order = append(p.order, int32(i))
		}
	}

	p.scratch = append(p.scratch[:0], p.out[body:]...)
	p.out = p.out[:body]
	for j, i := range p.order {
		if j > 0 {
			p.out = append(p.out, ',')
		}
		k, v := ms[i], ms[p.winner[i]]
		p.out = append(p.out, p.scratch[k.key-body:k.colon-body+1]...)
		p.out = append(p.out, p.scratch[v.colon+1-body:v.end-body]...)
	}
}

type keyHash struct {
	h   uint64
	idx int32
}

// findDuplicates reports whether two members share a key; if so it fills
// p.winner (see finishObject). Keys are compared in canonical escaped form,
// which is a one-to-one encoding of the parsed string.
func (p *parser) findDuplicates(ms []member) bool {
	out := p.out
	key := func(i int) []byte { return out[ms[i].key:ms[i].colon] }
	found := false
	mark := func(first, later int) {
		if !found {
			found = true
			p.winner = p.winner[:0]
			for i := range ms {
				p.winner = append(p.winner, int32(i))
			}
		}
		p.winner[later] = -1
		if int(p.winner[first]) < later {
			p.winner[first] = int32(later)
		}
	}
	if len(ms) <= 16 {
		for i := 1; i < len(ms); i++ {
			ki := key(i)
			for j := 0; j < i; j++ {
				if ms[j].colon-ms[j].key == len(ki) && bytes.Equal(key(j), ki) {
					mark(j, i)
					break
				}
			}
		}
		return found
	}
	hs := p.hashes[:0]
	for i := range ms {
		hs = append(hs, keyHash{fnv(key(i)), int32(i)})
	}
	slices.SortFunc(hs, func(a, b keyHash) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return int(a.idx - b.idx)
	})
	for g := 0; g < len(hs); {
		e := g + 1
		for e < len(hs) && hs[e].h == hs[g].h {
			e++
		}
		// Within a group of equal hashes (index order), match each member
		// to the earliest equal key.
		for a := g + 1; a < e; a++ {
			for b := g; b < a; b++ {
				if bytes.Equal(key(int(hs[b].idx)), key(int(hs[a].idx))) {
					first := int(hs[b].idx)
					if !found || p.winner[first] != -1 {
						mark(first, int(hs[a].idx))
					}
					break
				}
			}
		}
		g = e
	}
	p.hashes = hs
	return found
}

func fnv(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// plain[c] is true for bytes copied through a string unchanged without
// further checks: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 is nonzero when one of the eight bytes in x is not plain: a
// control character, '"', '\\' or a byte of a multi-byte UTF-8 sequence.
// (For ASCII bytes the subtractions borrow only from a byte that matches.)
func special8(x uint64) uint64 {
	return ((x - 0x20*ones) | ((x ^ '"'*ones) - ones) | ((x ^ '\\'*ones) - ones) | x) & highs
}

const hexDigits = "0123456789abcdef"

// appendEscapedControl appends JSON.stringify's escape of c < 0x20.
func appendEscapedControl(dst []byte, c byte) []byte {
	switch c {
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
}

const replacement = "\uFFFD"

// invalidLen returns how many bytes of b, which starts an invalid UTF-8
// sequence, the WHATWG decoder replaces by one U+FFFD: the lead byte and
// the continuation bytes that were still acceptable (its maximal subpart).
func invalidLen(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// str parses the string at p.pos (at its opening quote) and writes its
// canonical form.
func (p *parser) str() error {
	in := p.in
	pos := p.pos + 1
	out := append(p.out, '"')
	start := pos
	for {
		// Eight plain bytes at a time, then one at a time.
		for pos+8 <= len(in) && special8(binary.LittleEndian.Uint64(in[pos:])) == 0 {
			pos += 8
		}
		for pos < len(in) && plain[in[pos]] {
			pos++
		}
		if pos >= len(in) {
			p.out, p.pos = out, pos
			return p.fail("unterminated string")
		}
		c := in[pos]
		if c >= 0x80 {
			if r, size := utf8.DecodeRune(in[pos:]); r != utf8.RuneError || size > 1 {
				pos += size
				continue
			}
			out = append(out, in[start:pos]...)
			out = append(out, replacement...)
			pos += invalidLen(in[pos:])
			start = pos
			continue
		}
		out = append(out, in[start:pos]...)
		switch {
		case c == '"':
			p.out, p.pos = append(out, '"'), pos+1
			return nil
		case c < 0x20:
			p.out, p.pos = out, pos
			return p.fail("control character in string")
		}
		// A backslash escape.
		if pos+1 >= len(in) {
			p.out, p.pos = out, pos+1
			return p.fail("unterminated string")
		}
		switch e := in[pos+1]; e {
		case '"', '\\':
			out = append(out, '\\', e)
			pos += 2
		case '/':
			out = append(out, '/')
			pos += 2
		case 'b':
			out = append(out, '\\', 'b')
			pos += 2
		case 'f':
			out = append(out, '\\', 'f')
			pos += 2
		case 'n':
			out = append(out, '\\', 'n')
			pos += 2
		case 'r':
			out = append(out, '\\', 'r')
			pos += 2
		case 't':
			out = append(out, '\\', 't')
			pos += 2
		case 'u':
			r, ok := Hex4(in[pos+2:])
			if !ok {
				p.out, p.pos = out, pos
				return p.fail("invalid \\u escape")
			}
			pos += 6
			switch {
			case r < 0x20:
				out = appendEscapedControl(out, byte(r))
			case r == '"' || r == '\\':
				out = append(out, '\\', byte(r))
			case r >= 0xD800 && r < 0xDC00:
				if pos+6 <= len(in) && in[pos] == '\\' && in[pos+1] == 'u' {
					if r2, ok := Hex4(in[pos+2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						out = utf8.AppendRune(out, 0x10000+(r-0xD800)<<10+(r2-0xDC00))
						pos += 6
						break
					}
				}
				out = appendSurrogate(out, r)
			case r >= 0xDC00 && r < 0xE000:
				out = appendSurrogate(out, r)
			default:
				out = utf8.AppendRune(out, r)
			}
		default:
			p.out, p.pos = out, pos
			return p.fail("invalid escape in string")
		}
		start = pos
	}
}

func appendSurrogate(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
}

// Hex4 decodes the four hex digits b starts with (of a \uXXXX escape).
func Hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// AppendString appends s as JSON.stringify writes a string: quoted, with
// the escapes listed in the package documentation. Bytes of s that are not
// valid UTF-8 are replaced by U+FFFD as in the rest of the package, so the
// result is always a canonical JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c >= 0x80 {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacement...)
			i += invalidLen([]byte(s[i:min(i+4, len(s))]))
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < 0x20 {
			dst = appendEscapedControl(dst, c)
		} else {
			dst = append(dst, '\\', c)
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
