package jsjson

import (
	"math"
	"strconv"
)

// NumberLen returns the length of the JSON number that b starts with,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, or 0 if b does not start
// with one. It only checks the grammar: what follows is the caller's.
func NumberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsEnd(b, i)
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		d := digitsEnd(b, i+1)
		if d == i+1 {
			return 0
		}
		i = d
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := digitsEnd(b, i)
		if d == i {
			return 0
		}
		i = d
	}
	return i
}

// digitsEnd returns where the run of digits of b from i ends.
func digitsEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// number parses the JSON number at p.pos and writes it as JavaScript's
// Number.prototype.toString would write the double it denotes.
func (p *parser) number() error {
	in := p.in
	start := p.pos
	pos := start
	neg := false
	if in[pos] == '-' {
		neg = true
		pos++
	}
	// Significant digits (leading zeros dropped; more than 32 sets
	// overflow and leaves the work to strconv); point is the decimal exponent of the digits so far, i.e.
	// value = 0.digits × 10^point.
	var digits [32]byte
	nd, point, overflow := 0, 0, false
	addDigit := func(c byte) {
		if nd == 0 && c == '0' {
			return
		}
		if nd < len(digits) {
			digits[nd] = c
		} else {
			overflow = true
		}
		nd++
	}
	switch {
	case pos < len(in) && in[pos] == '0':
		pos++
	case pos < len(in) && in[pos] >= '1' && in[pos] <= '9':
		for pos < len(in) && in[pos] >= '0' && in[pos] <= '9' {
			addDigit(in[pos])
			pos++
		}
		point = pos - start
		if neg {
			point--
		}
	default:
		p.pos = pos
		return p.unexpected("in number (want a digit)")
	}
	fraction := false
	if pos < len(in) && in[pos] == '.' {
		pos++
		if pos >= len(in) || in[pos] < '0' || in[pos] > '9' {
			p.pos = pos
			return p.unexpected("in number (want a digit after '.')")
		}
		fraction = true
		for pos < len(in) && in[pos] >= '0' && in[pos] <= '9' {
			if nd == 0 && in[pos] == '0' {
				point--
			}
			addDigit(in[pos])
			pos++
		}
	}
	// exp saturates far beyond what any input could make up for with
	// digits, so point+exp is exact for every input that fits in memory.
	const maxExp = 1 << 50
	exp, hasExp := 0, false
	if pos < len(in) && (in[pos] == 'e' || in[pos] == 'E') {
		hasExp = true
		pos++
		expNeg := false
		if pos < len(in) && (in[pos] == '+' || in[pos] == '-') {
			expNeg = in[pos] == '-'
			pos++
		}
		if pos >= len(in) || in[pos] < '0' || in[pos] > '9' {
			p.pos = pos
			return p.unexpected("in number (want a digit in the exponent)")
		}
		for pos < len(in) && in[pos] >= '0' && in[pos] <= '9' {
			if exp < maxExp {
				exp = exp*10 + int(in[pos]-'0')
			}
			pos++
		}
		if expNeg {
			exp = -exp
		}
	}
	p.pos = pos
	text := in[start:pos]

	// Integers of up to 15 digits are exact doubles written as they are.
	if !fraction && !hasExp && len(text) <= 16 && (len(text) <= 15 || neg) {
		if nd == 0 {
			p.out = append(p.out, '0') // "0" and "-0"
		} else {
			p.out = append(p.out, text...)
		}
		return nil
	}
	if nd == 0 && !overflow {
		p.out = append(p.out, '0') // zero however written; -0 is "0" too
		return nil
	}
	// A decimal of at most 15 significant digits is the shortest decimal
	// that round-trips to its nearest double (DBL_DIG is 15), as long as
	// that double is normal: its toString digits are those digits.
	if !overflow {
		for nd > 0 && digits[nd-1] == '0' {
			nd--
		}
	}
	n := point + exp
	if !overflow && nd <= 15 && n > -290 && n < 300 {
		p.out = appendJS(p.out, neg, digits[:nd], n)
		return nil
	}
	return p.slowNumber(text, neg, n)
}

// slowNumber writes the number text, which denotes ±0.d × 10^n where d is
// its significant digits, through strconv.ParseFloat, handed the number
// as "0.d e n": strconv drops integer digits past its 800th (10^801 read
// as 10^800) and stops reading exponents past 10000 (so 10^-100000 digits
// and an exponent of 100000 that cancel came out 0), neither of which it
// does to digits after the point and a small exponent.
func (p *parser) slowNumber(text []byte, neg bool, n int) error {
	s := make([]byte, 0, len(text)+24)
	if neg {
		s = append(s, '-')
	}
	s = append(s, '0', '.')
	nd := 0
	for _, c := range text {
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' || nd == 0 && c == '0' {
			continue // the sign, the point, leading zeros
		}
		s = append(s, c)
		nd++
	}
	var f float64
	switch {
	case nd == 0:
	case n > 400: // past the largest double, ~1.8e308, whatever the digits
		f = math.Inf(1)
	case n < -400: // below half the smallest, 5e-324
	default:
		s = append(s, 'e')
		s = strconv.AppendInt(s, int64(n), 10)
		var err error
		f, err = strconv.ParseFloat(string(s), 64)
		if err != nil && !math.IsInf(f, 0) && f != 0 {
			return &SyntaxError{Offset: p.pos - len(text), Msg: "invalid number"}
		}
	}
	p.out = AppendNumber(p.out, f)
	return nil
}

// AppendNumber appends f as JSON.stringify writes a number: as
// Number.prototype.toString does for finite values, null for NaN and ±Inf.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	neg := f < 0
	var buf [32]byte
	// Shortest round-trip digits, as "d.ddde±x" or "de±x".
	e := strconv.AppendFloat(buf[:0], math.Abs(f), 'e', -1, 64)
	var digits [24]byte
	nd, i := 0, 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	x, _ := strconv.Atoi(string(e[i+1:]))
	return appendJS(dst, neg, digits[:nd], x+1)
}

// appendJS writes the number 0.d × 10^n (d: nonempty significant digits
// without trailing zeros) following Number::toString (ECMA-262 6.1.6.1.20),
// where n is the position of the decimal point relative to d.
func appendJS(dst []byte, neg bool, d []byte, n int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	k := len(d)
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, d[:n]...)
		dst = append(dst, '.')
		dst = append(dst, d[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = append(dst, d[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		x := n - 1
		if x < 0 {
			dst = append(dst, '-')
			x = -x
		} else {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(x), 10)
	}
	return dst
}
