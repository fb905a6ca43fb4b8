package filter

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/jsjson"
)

// A phrase whose needle starts with an ASCII character is searched for in
// the text's JSON string as it is in the event, without unescaping or
// folding the text: the candidates are the places the needle's first
// character can come from (a byte in either case, an escape, or one of the
// few non-ASCII letters that fold to an ASCII one, such as the Kelvin sign),
// and each is checked a character at a time, decoding and folding only the
// characters the check reads. The answer is the one the folded text gives
// (phrase.in over foldString of the unquoted string): the same folding
// (foldText), the same white space, the same word boundaries, and a string
// that unquote rejects has no text. Phrases that start with a non-ASCII
// character search the folded text instead, and so do searches of hostile
// text that this way would take more than linear time (see maxResync).

// jsonText is a JSON string prepared for phrase searches: its body, between
// the quotes, whose escapes are valid.
type jsonText struct {
	body []byte
	// escFirst has bit c when an escape decodes to a character that folds
	// to the ASCII character c (white space aside): escapes that can begin
	// a needle starting with c.
	escFirst [2]uint64
}

// parseJSONText checks the escapes of the JSON string raw. It fails exactly
// when unquote does.
func parseJSONText(raw json.RawMessage) (jsonText, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return jsonText{}, false
	}
	t := jsonText{body: raw[1 : len(raw)-1]}
	for k := bytes.IndexByte(t.body, '\\'); k >= 0; {
		n := 2
		if k+1 < len(t.body) && shortEscape[t.body[k+1]] != 0 {
			// \n and the like, the usual escapes, at once.
			if f := asciiFold[shortEscape[t.body[k+1]]]; f != 0 {
				t.escFirst[f>>6] |= 1 << (f & 63)
			}
		} else {
			var r rune
			var ok bool
			if r, n, ok = escapeAt(t.body, k); !ok {
				return jsonText{}, false
			}
			if f := foldText(r); f > 0 && f < utf8.RuneSelf {
				t.escFirst[f>>6] |= 1 << (f & 63)
			}
		}
		k += n
		j := bytes.IndexByte(t.body[k:], '\\')
		if j < 0 {
			break
		}
		k += j
	}
	return t, true
}

// shortEscape maps the c of an escape \c, other than \u, to what it
// decodes to.
var shortEscape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escapeAt decodes the escape at body[k] == '\\' as encoding/json does: the
// rune and the length of the escape. A lone surrogate is U+FFFD.
func escapeAt(body []byte, k int) (r rune, n int, ok bool) {
	if k+1 >= len(body) {
		return 0, 0, false
	}
	switch c := body[k+1]; c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return rune(shortEscape[c]), 2, true
	case 'u':
		r, ok := jsjson.Hex4(body[k+2:])
		if !ok {
			return 0, 0, false
		}
		if !utf16.IsSurrogate(r) {
			return r, 6, true
		}
		r2, ok := rune(0), false
		if len(body) >= k+12 && body[k+6] == '\\' && body[k+7] == 'u' {
			r2, ok = jsjson.Hex4(body[k+8:])
		}
		if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
			return d, 12, true
		}
		return utf8.RuneError, 6, true
	}
	return 0, 0, false
}

// foldText is r as the folded text has it (see foldString), 0 for white
// space.
func foldText(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(asciiFold[r])
	}
	if unicode.IsSpace(r) {
		return 0
	}
	return foldRune(r)
}

// nonASCIIFolds are the non-ASCII runes whose fold is an ASCII character
// (TestNonASCIIFolds checks the list against every rune).
var nonASCIIFolds = map[byte][]string{
	'i': {"\u0130", "\u0131"}, // İ ı
	'k': {"\u212a"},           // Kelvin sign
	's': {"\u017f"},           // long s
}

// firstOf returns the bytes of a body that can begin the needle n (which
// starts with an ASCII character): the ASCII bytes that fold to its first
// character, and the non-ASCII runes that do. Escapes are candidates too.
func firstOf(n string) (lits []byte, alts [][]byte) {
	for b := range utf8.RuneSelf {
		if asciiFold[b] == n[0] {
			lits = append(lits, byte(b))
		}
	}
	for _, r := range nonASCIIFolds[n[0]] {
		alts = append(alts, []byte(r))
	}
	return lits, alts
}

// maxResync bounds how far back from a candidate the search looks for
// where escapes begin, and searchBudget the bytes it reads per byte of the
// body, before it leaves the phrase to the folded text (hostile text: long
// runs of escapes, a needle matching nearly everywhere).
var (
	maxResync    = 64
	searchBudget = 4
)

// has reports whether the phrase occurs in the text, as p.in does on the
// folded text, if decided; p.lits is not empty.
func (t *jsonText) has(p *phrase) (found, decided bool) {
	body := t.body
	budget := searchBudget*len(body) + 4*len(p.needle) + 64
	// try matches at a candidate byte, then checks that it is no part of
	// an escape and what precedes it (undecided when that is too far back
	// to tell).
	try := func(s int) bool {
		ok, read := t.matchAt(p, s)
		budget -= read
		if !ok {
			return false
		}
		prev, inEsc, far := t.prevAt(s)
		if far {
			budget = -1
			return false
		}
		return !inEsc && p.canFollow(prev)
	}
	// Escapes that decode to the needle's first character.
	if c := p.needle[0]; t.escFirst[c>>6]&(1<<(c&63)) != 0 {
		end, last := 0, rune(-1) // the end of the last escape, its rune
		for k := bytes.IndexByte(body, '\\'); k >= 0; {
			r, n, _ := escapeAt(body, k)
			if foldText(r) == rune(c) {
				prev := last
				if end < k {
					prev = lastRaw(body[end:k])
				}
				ok, read := t.matchAt(p, k)
				budget -= read
				if ok && p.canFollow(prev) {
					return true, true
				}
				if budget < 0 {
					return false, false
				}
			}
			end, last = k+n, r
			j := bytes.IndexByte(body[end:], '\\')
			if j < 0 {
				break
			}
			k = end + j
			budget -= n
		}
	}
	// Bytes, and non-ASCII runes, that fold to it.
	for _, alt := range p.alts {
		for from := 0; ; {
			k := bytes.Index(body[from:], alt)
			if k < 0 {
				break
			}
			s := from + k
			from = s + len(alt)
			// Escapes are ASCII: s is a character outside them.
			if try(s) {
				return true, true
			}
			if budget < 0 {
				return false, false
			}
		}
	}
	for _, b := range p.lits {
		for from := 0; ; {
			k := bytes.IndexByte(body[from:], b)
			if k < 0 {
				break
			}
			s := from + k
			from = s + 1
			// s may be part of an escape, which try rules out.
			if try(s) {
				return true, true
			}
			if budget < 0 {
				return false, false
			}
		}
	}
	return false, budget >= 0
}

// canFollow reports whether the needle may follow the character prev (-1
// for none): not a word character when it starts with one.
func (p *phrase) canFollow(prev rune) bool {
	return !p.startBound || prev < 0 || !isWord(foldText(prev))
}

// escByte marks the bytes an escape is made of.
var escByte = func() (t [256]bool) {
	for _, c := range []byte(`\"/bfnrtu0123456789abcdefABCDEF`) {
		t[c] = true
	}
	return t
}()

// prevAt returns the character before body[s] in the unquoted string (-1
// at its start), when s is not inside an escape; far when that would take
// looking back further than maxResync.
func (t *jsonText) prevAt(s int) (prev rune, inEsc, far bool) {
	body := t.body
	if bytes.IndexByte(body[max(0, s-12):s], '\\') < 0 {
		// No escape (12 bytes at most) holds s or ends at s.
		return lastRaw(body[:s]), false, false
	}
	// Back to a byte that is no part of an escape, then forward over the
	// escapes to s.
	i := s
	for i > 0 && escByte[body[i-1]] {
		if s-i >= maxResync {
			return 0, false, true
		}
		i--
	}
	prev = lastRaw(body[:i])
	for j := i; j < s; {
		if body[j] != '\\' {
			prev, j = rune(body[j]), j+1
			continue
		}
		r, n, ok := escapeAt(body, j)
		if !ok || j+n > s {
			return 0, true, false
		}
		prev, j = r, j+n
	}
	return prev, false, false
}

// lastRaw returns the last character of b, bytes with no escapes (-1 when
// b is empty). An invalid sequence is U+FFFD as in the unquoted string,
// where what b follows is an escape or b begins the body: the escape ends a
// sequence or decodes to a whole one.
func lastRaw(b []byte) rune {
	if len(b) == 0 {
		return -1
	}
	if c := b[len(b)-1]; c < utf8.RuneSelf {
		return rune(c)
	}
	r, _ := utf8.DecodeLastRune(b)
	return r
}

// runeAt decodes the character at body[j], which begins one (escapes are
// valid: parseJSONText checked): the rune and its length in the body.
func (t *jsonText) runeAt(j int) (r rune, size int) {
	switch c := t.body[j]; {
	case c == '\\':
		if r, size, ok := escapeAt(t.body, j); ok {
			return r, size
		}
		return utf8.RuneError, 1 // inside an escape: see matchAt
	case c < utf8.RuneSelf:
		return rune(c), 1
	}
	// An invalid sequence is one byte, U+FFFD, here as in the unquoted
	// string: an escape begins with '\\', which ends a sequence.
	return utf8.DecodeRune(t.body[j:])
}

// matchAt reports whether the needle occurs at body[s], the start of a
// character, not followed by a word character if it ends with one (the
// caller checks what precedes it); and how many bytes of the body it read.
// Where s is inside an escape the answer means nothing, but comes.
func (t *jsonText) matchAt(p *phrase, s int) (ok bool, read int) {
	body, n := t.body, p.needle
	j := s
	for k := 0; k < len(n); {
		c := n[k]
		if c == ' ' {
			// One space is a run of white space.
			k++
			ws := j
			for j < len(body) {
				r, size := t.runeAt(j)
				if foldText(r) != 0 {
					break
				}
				j += size
			}
			if j == ws {
				return false, j - s + 1
			}
			continue
		}
		if j >= len(body) {
			return false, j - s + 1
		}
		if b := body[j]; b < utf8.RuneSelf && b != '\\' && c < utf8.RuneSelf {
			if asciiFold[b] != c {
				return false, j - s + 1
			}
			j, k = j+1, k+1
			continue
		}
		want, wsize := utf8.DecodeRuneInString(n[k:])
		r, size := t.runeAt(j)
		if f := foldText(r); f == 0 || f != want {
			return false, j - s + 1
		}
		j, k = j+size, k+wsize
	}
	if p.endBound && j < len(body) {
		if r, _ := t.runeAt(j); isWord(foldText(r)) {
			return false, j - s + 1
		}
	}
	return true, j - s
}
