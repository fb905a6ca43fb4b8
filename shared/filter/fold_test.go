package filter

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFold(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"  Hello,\n\tWORLD  ", "hello, world"},
		{"María GONZÁLEZ", "maría gonzález"},
		{"ΛΌΓΟΣ λόγος", "λόγοσ λόγοσ"}, // final sigma folds with sigma
		{"\u212a\u017f", "ks"},         // Kelvin sign, long s
		{"İstanbul", "istanbul"},       // Turkish dotted capital I
		{"a\u00a0b\u2003c", "a b c"},   // Unicode spaces
		{"Straße", "straße"},           // simple folding: ß stays
		{"x\x00y", "x\x01y"},           // NUL is not a space
		{"\xff", "\ufffd"},             // invalid UTF-8
	} {
		if got := foldString(c.in); got != c.want {
			t.Errorf("fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPhrase(t *testing.T) {
	for _, c := range []struct {
		phrase, text string
		want         bool
	}{
		{"quote", "Quote, please", true},
		{"quote", "QUOTE.", true},
		{"quote", "quotes", false},
		{"quote", "misquote", false},
		{"quote", "misquote quote", true}, // a later occurrence counts
		{"quote", "quote_id", false},
		{"quote", "(quote)", true},
		{"quote", "l'quote", true},
		{"i'd like", "I'd like a quote", true},
		{"firm quote", "a firm\n  quote", true},
		{"firm quote", "a firmquote", false},
		{"café", "Café!", true},
		{"caf", "café", false},
		{"cafe", "cafe\u0301", false}, // a combining mark continues the word
		{"λόγος", "ΛΌΓΟΣ", true},
		{"istanbul", "İSTANBUL'da", true},
		{"straße", "STRASSE", false}, // no full folding
		{"preis", "Der Preis, bitte", true},
		{"angebot", "Angebote", false},
		{"見積", "お見積もりをお願いします", true},      // no spaces between Japanese words
		{"ราคา", "ขอทราบราคาหน่อย", true}, // nor Thai
		{"$9", "runs $9 to $12", true},
		{"$9", "runs $99", false},
		{"10 a.m.", "at 10 a.m. Does", true},
		{"2,200", "about 2,200 square", true},
		{"200", "about 2,200 square", true}, // "," separates words
		{"a", "b a c", true},
		{"a", "bac", false},
		{"x", "", false},
		{"ab", "a", false},
	} {
		p, ok := newPhrase(c.phrase)
		if !ok {
			t.Fatalf("newPhrase(%q) failed", c.phrase)
		}
		if got := p.in(foldString(c.text)); got != c.want {
			t.Errorf("%q in %q: got %v, want %v", c.phrase, c.text, got, c.want)
		}
	}
	for _, s := range []string{"", "   ", "\n\t"} {
		if _, ok := newPhrase(s); ok {
			t.Errorf("newPhrase(%q) accepted", s)
		}
	}
}

// foldRef is foldString, one rune at a time.
func foldRef(s string) string {
	var b strings.Builder
	space := true
	for _, r := range s {
		if r < utf8.RuneSelf && asciiFold[r] == 0 || r >= utf8.RuneSelf && unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		if r < utf8.RuneSelf {
			b.WriteByte(asciiFold[r])
		} else {
			b.WriteRune(foldRune(r))
		}
		space = false
	}
	return strings.TrimSuffix(b.String(), " ")
}

// FuzzFold: the eight-bytes-at-a-time fold is the rune-at-a-time fold.
func FuzzFold(f *testing.F) {
	for _, s := range []string{longTranscript(), "  Hello,\n\tWORLD  ", "ΛΌΓΟΣ λόγος ȺȺȺȺȺȺȺȺȺ", "abcdefgh  ABCDEFGH \x00\x7f\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := foldString(s), foldRef(s); got != want {
			t.Fatalf("fold(%q) = %q, want %q", s, got, want)
		}
	})
}
