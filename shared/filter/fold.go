package filter

import (
	"encoding/binary"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Text is searched in a folded form computed once per event: simple
// Unicode case folding (so "QUOTE", "Quote" and "quote" are equal, and so
// are "Σ", "σ" and "ς"), with every run of white space made one space and
// the ends trimmed. Phrases are folded the same way once, when the filter
// is compiled, so a search is a plain substring scan plus word-boundary
// checks. A phrase that starts with an ASCII character (most) is searched
// for in the event's JSON string instead, folding only what it compares
// (jsonText.has), with the answer the folded text gives: then the text is
// neither unescaped nor folded.

// asciiFold maps an ASCII byte to its folded form; 0 marks white space.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		c := byte(i)
		switch {
		case c >= 'A' && c <= 'Z':
			t[i] = c + 'a' - 'A'
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f':
			t[i] = 0
		default:
			t[i] = c
		}
	}
	t[0] = 1 // NUL is not white space; it folds to \x01 (never in a phrase)
	return t
}()

// foldRune folds r to lower case through upper case, which maps the
// variants of a letter (ς/σ/Σ, ſ/s/S, K (Kelvin)/k/K) to one rune.
func foldRune(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }

// foldString returns the folded form of s. Runs of plain ASCII go eight
// bytes at a time.
func foldString(s string) string {
	b := make([]byte, len(s)+32)
	w := 0
	space := true // at the start: drop leading white space
	for i := 0; i < len(s); {
		// A window of 8 bytes writes at most 24: folding can lengthen a
		// rune (Ⱥ → ⱥ), and an invalid byte becomes U+FFFD.
		if w+3*8 > len(b) {
			b = append(b[:w], make([]byte, len(b)/2+3*8)...)
		}
		if i+8 <= len(s) {
			// Eight bytes of plain ASCII that need no white-space work — no
			// control characters, no two spaces in a row, no space after a
			// space — fold at once: A-Z become a-z.
			t := s[i : i+8]
			x := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
				uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
			y := x ^ 0x2020202020202020
			sp := ^(((y & lo7) + lo7) | y) & hi // the high bit of each space byte
			if x&hi == 0 &&                     // ASCII
				^(x+0x6060606060606060)&hi == 0 && // no byte < 0x20
				sp&(sp<<8) == 0 && !(space && sp&0x80 != 0) {
				upper := (x + 0x3f3f3f3f3f3f3f3f) &^ (x + 0x2525252525252525) & hi // 'A' <= b <= 'Z'
				binary.LittleEndian.PutUint64(b[w:], x|upper>>2)
				space = x>>56 == ' '
				i, w = i+8, w+8
				continue
			}
		}
		// One character at a time until the next ASCII control character
		// or non-ASCII rune is behind.
		end := min(i+8, len(s))
		for i < end {
			c := s[i]
			if c < utf8.RuneSelf {
				i++
				if f := asciiFold[c]; f != 0 {
					b[w] = f
					w++
					space = false
				} else if !space {
					b[w] = ' '
					w++
					space = true
				}
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if unicode.IsSpace(r) {
				if !space {
					b[w] = ' '
					w++
					space = true
				}
				continue
			}
			w += utf8.EncodeRune(b[w:], foldRune(r))
			space = false
		}
	}
	if space && w > 0 {
		w--
	}
	if w == 0 {
		return ""
	}
	return unsafe.String(&b[0], w) // b is never written again
}

const (
	lo7 = 0x7f7f7f7f7f7f7f7f
	hi  = 0x8080808080808080
)

// isWord reports whether r is part of a word: a letter, a mark, a digit or
// connector punctuation such as "_" (Unicode's \w).
func isWord(r rune) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || unicode.Is(unicode.Pc, r)
}

// unspaced reports whether r belongs to a script written without spaces
// between words (Chinese, Japanese, Thai, ...), where a phrase can't be
// required to stand alone.
func unspaced(r rune) bool {
	return r >= 0x0e00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana,
		unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// phrase is a compiled phrase search.
type phrase struct {
	key        string // field + needle, for the per-event cache of results
	needle     string // folded
	startBound bool   // the needle starts with a word character: the text before must not
	endBound   bool   // the needle ends with a word character: the text after must not

	// When the needle starts with an ASCII character, the phrase is
	// searched for in the JSON string (jsonText.has): lits are the ASCII
	// bytes and alts the non-ASCII runes that fold to that character.
	lits []byte
	alts [][]byte
}

func newPhrase(s string) (phrase, bool) {
	n := foldString(s)
	if n == "" {
		return phrase{}, false
	}
	first, _ := utf8.DecodeRuneInString(n)
	last, _ := utf8.DecodeLastRuneInString(n)
	p := phrase{
		needle:     strings.Clone(n),
		startBound: isWord(first) && !unspaced(first),
		endBound:   isWord(last) && !unspaced(last),
	}
	if first < utf8.RuneSelf {
		p.lits, p.alts = firstOf(p.needle)
	}
	return p, true
}

// in reports whether the phrase occurs as whole words in the folded text t.
func (p phrase) in(t string) bool {
	for from := 0; from <= len(t)-len(p.needle); {
		i := strings.Index(t[from:], p.needle)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(p.needle)
		ok := true
		if p.startBound && i > 0 {
			r, _ := utf8.DecodeLastRuneInString(t[:i])
			ok = !isWord(r)
		}
		if ok && p.endBound && end < len(t) {
			r, _ := utf8.DecodeRuneInString(t[end:])
			ok = !isWord(r)
		}
		if ok {
			return true
		}
		_, size := utf8.DecodeRuneInString(t[i:])
		from = i + size
	}
	return false
}
