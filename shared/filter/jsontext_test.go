package filter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/phoneshield/webhooks/shared/jsjson"
)

// unquoteRef is unquote as it was before the phrase search read JSON
// strings in place: the reference the search is checked against.
func unquoteRef(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	k := bytes.IndexByte(body, '\\')
	if k < 0 {
		return string(body), true
	}
	buf := make([]byte, 0, len(body))
	for k >= 0 {
		buf = append(buf, body[:k]...)
		if k+1 >= len(body) {
			return "", false
		}
		n := 2
		switch c := body[k+1]; c {
		case '"', '\\', '/':
			buf = append(buf, c)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := jsjson.Hex4(body[k+2:])
			if !ok {
				return "", false
			}
			n = 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if len(body) >= k+12 && body[k+6] == '\\' && body[k+7] == 'u' {
					r2, ok = jsjson.Hex4(body[k+8:])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r, n = d, 12
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", false
		}
		body = body[k+n:]
		k = bytes.IndexByte(body, '\\')
	}
	buf = append(buf, body...)
	return string(buf), true
}

// hasSlow is the phrase search on the unquoted, folded string.
func hasSlow(p *phrase, raw []byte) bool {
	s, ok := unquoteRef(raw)
	return ok && p.in(foldString(s))
}

// hasFast is the phrase search on the JSON string in place, or when that
// leaves it to the folded text, hasSlow.
func hasFast(p *phrase, raw []byte) bool {
	t, ok := parseJSONText(raw)
	if !ok {
		return false
	}
	found, decided := t.has(p)
	if !decided {
		undecided++
		return hasSlow(p, raw)
	}
	return found
}

// undecided counts the searches hasFast left to hasSlow.
var undecided int

// checkSame wants both searches to agree, and reports what they found.
func checkSame(t *testing.T, phr string, raw []byte) (found, checked bool) {
	t.Helper()
	p, ok := newPhrase(phr)
	if !ok || len(p.lits) == 0 {
		return false, false
	}
	want := hasSlow(&p, raw)
	if got := hasFast(&p, raw); got != want {
		s, ok := unquoteRef(raw)
		t.Fatalf("phrase %q (needle %q) in %q: got %v, want %v (unquoted %q, %v; folded %q)",
			phr, p.needle, raw, got, want, s, ok, foldString(s))
	}
	return want, true
}

// The search in the JSON string finds what the search in the folded string
// finds, around escapes, non-ASCII text and word boundaries.
func TestJSONTextHas(t *testing.T) {
	for _, c := range []struct {
		phrase, raw string // raw: a JSON string
		want        bool
	}{
		{"pricing", `"Pricing, please"`, true},
		{"pricing", `"repricing"`, false},
		{"pricing", `"PRICING."`, true},
		{"pricing", `"pric\u0069ng"`, true},         // split by an escape
		{"pricing", `"pric\u0049NG"`, true},         // escaped capital
		{"pricing", `"\u0070ricing"`, true},         // starting with an escape
		{"pricing", `"\u0050RICING"`, true},         //
		{"pricing", `"re\u0070ricing"`, false},      //
		{"pricing", `"\u00e9pricing"`, false},       // é is a letter
		{"pricing", `"\u00c9pricing"`, false},       //
		{"pricing", `"caf\u00e9 pricing"`, true},    //
		{"pricing", `"\u0020pricing"`, true},        // an escaped space
		{"pricing", `"x\npricing"`, true},           //
		{"pricing", `"x\\npricing"`, false},         // a backslash, then "npricing"
		{"pricing", `"x\\ pricing"`, true},          //
		{"pricing", `"x\\\npricing"`, true},         //
		{"pricing", `"pricing\u0073"`, false},       // escaped "s" after
		{"pricing", `"pricing\u002e"`, true},        //
		{"pricing", `"pricing\u005f"`, false},       // "_"
		{"pricing", `"pricing\u0301"`, false},       // a combining mark
		{"pricing", `"pricing\ud83d\ude00"`, true},  // an emoji is no letter
		{"pricing", `"\ud83d\ude00pricing"`, true},  //
		{"pricing", `"\ud835\udc00pricing"`, false}, // U+1D400, a letter
		{"pricing", `"pricing\ud835\udc00"`, false}, //
		{"pricing", `"pricing\ud800"`, true},        // a lone surrogate is U+FFFD
		{"pricing", `"\udc00pricing"`, true},        //
		{"pricing", `"\ud800\u0041pricing"`, false}, // U+FFFD, then "A"
		{"pricing", "\"\xffpricing\"", true},        // invalid UTF-8
		{"pricing", "\"\xc3pricing\"", true},        //
		{"pricing", "\"pricing\xc3\"", true},        //
		{"pricing", "\"pricing\xc3\xa9\"", false},   // é
		{"pricing", "\"\xc3\xa9pricing\"", false},   //
		{"pricing", "\"\u00e9\xa9pricing\"", true},  // é, then a stray byte
		{"pricing", `"\u00e9` + "\xa9" + `pricing"`, true},
		{"pricing", `"pricing \x"`, false},        // a bad escape: no text
		{"pricing", `"pricing \u12"`, false},      //
		{"pricing", `"pricing \u12g4"`, false},    //
		{"pricing", `"pricing\"`, false},          // a backslash at the end
		{"pricing", `"pricing \ud800\ux"`, false}, //
		{"pricing", `pricing`, false},             // not a string
		{"pricing", `"`, false},                   //
		{"quote", `"\u0071\u0075\u006f\u0074\u0065"`, true},
		{"quote", `"\u0071\u0075\u006f\u0074\u0065s"`, false},
		{"quote", `"a \"quote\""`, true},
		{"firm quote", `"a firm\n\t quote"`, true},
		{"firm quote", `"a firm\u00a0quote"`, true},
		{"firm quote", "\"a firm\u00a0quote\"", true},
		{"firm quote", "\"a firm\u2003\u3000quote\"", true},
		{"firm quote", `"a firm\u000bquote"`, true},  // \v
		{"firm quote", `"a firm\u0085quote"`, true},  // NEL
		{"firm quote", `"a firm\bquote"`, false},     // backspace is no space
		{"firm quote", `"a firmquote"`, false},       //
		{"firm quote", `"a firm \u0071uote"`, true},  //
		{"firm quote", `"a firm quote_"`, false},     //
		{"ks", `"\u212as"`, true},                    // Kelvin sign
		{"ks", "\"\u212a\u017f\"", true},             // and long s
		{"ks", "\"x\u212a\u017f\"", false},           //
		{"istanbul", "\"\u0130STANBUL'da\"", true},   // İ
		{"istanbul", "\"\u0131stanbul\"", true},      // ı
		{"istanbul", `"\u0130stanbul"`, true},        //
		{"istanbul", "\"x\u0130stanbul\"", false},    //
		{"straße", `"STRASSE"`, false},               // no full folding
		{"strasse", `"Stra\u00dfe"`, false},          //
		{"straße", `"Stra\u00dfe"`, true},            //
		{"straße", "\"STRAẞE\"", true},               // capital ß folds to ß
		{"say \"hi\"", `"they say \"HI\" to"`, true}, // quotes in the phrase
		{"a/b", `"a\/b"`, true},                      //
		{`\`, `"a \\ b"`, true},                      //
		{`\n`, `"a \n b"`, false},                    // a newline, not "\n"
		{`\n`, `"a \\n b"`, true},                    //
		{"n", `"\n"`, false},                         // not the escape's letter
		{"n", `"a\nb"`, false},                       //
		{"u0070", `"\u0070"`, false},                 //
		{"u0070", `"\\u0070"`, true},                 //
		{"d83d", `"\ud83d\ude00"`, false},            //
		{"ude00", `"\ud83d\ude00"`, false},           //
		{"b", `"a\bc"`, false},                       //
		{"b", `"a\\b"`, true},                        //
		{"\x00a", `"\u0000A"`, true},                 // NUL folds to \x01
		{"\x00a", "\"\x01a\"", true},                 //
		{"\x01a", "\"\x00a\"", true},                 //
		{"$9", `"runs $9 to $12"`, true},             //
		{"$9", `"runs $99"`, false},                  //
		{"$9", `"runs \u00249"`, true},               //
		{"10 a.m.", `"at 10\ta.m. Does"`, true},      //
		{"x", `""`, false},                           //
		{"ab", `"a"`, false},                         //
		{"a", `"a"`, true},                           //
		{"a", `"\u0041"`, true},                      //
		{"a", `"\u0041\u0041"`, false},               //
		{"café", `"CAF\u00c9!"`, true},               // a non-ASCII needle, after the first character
		{"café", "\"CAFE\u0301\"", false},            //
		{"maría gonzález.", `"Mar\u00eda\n GONZ\u00c1LEZ."`, true},
	} {
		p, ok := newPhrase(c.phrase)
		if !ok || len(p.lits) == 0 {
			t.Fatalf("phrase %q: not searched in place", c.phrase)
		}
		if got := hasSlow(&p, []byte(c.raw)); got != c.want {
			t.Errorf("reference: %q in %s: got %v, want %v", c.phrase, c.raw, got, c.want)
		}
		if got := hasFast(&p, []byte(c.raw)); got != c.want {
			t.Errorf("%q in %s: got %v, want %v", c.phrase, c.raw, got, c.want)
		}
	}
}

// The phrases the search reads in place: those starting with an ASCII
// character.
func TestPhraseInPlace(t *testing.T) {
	for s, want := range map[string]bool{
		"pricing": true, " Quote": true, "$9": true, "\"hi\"": true, `\`: true, "Ǆ": false, "見積": false,
		"ΛΌΓΟΣ": false, "ıx": true, "İstanbul": true, // ı and İ fold to i
	} {
		p, ok := newPhrase(s)
		if !ok {
			t.Fatal(s)
		}
		if got := len(p.lits) > 0; got != want {
			t.Errorf("%q: in place %v, want %v", s, got, want)
		}
	}
}

// nonASCIIFolds has every non-ASCII rune that folds to ASCII.
func TestNonASCIIFolds(t *testing.T) {
	if testing.Short() {
		t.Skip("every rune")
	}
	got := map[byte][]string{}
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if f := foldText(r); f != 0 && f < utf8.RuneSelf {
			got[byte(f)] = append(got[byte(f)], string(r))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(nonASCIIFolds) {
		t.Errorf("non-ASCII runes folding to ASCII: %q, want %q", got, nonASCIIFolds)
	}
}

// escapeJSON writes s as the body of a JSON string, choosing for each
// character by the bits of rnd: as it is, as a short escape, as \u with
// lower or upper case hex digits (a surrogate pair beyond the BMP), or for
// invalid bytes as they are. '"' and '\\' are always escaped.
func escapeJSON(s string, rnd *rand.Rand) []byte {
	b := []byte{'"'}
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[0])
			s = s[1:]
			continue
		}
		s = s[size:]
		short := map[rune]string{'"': `\"`, '\\': `\\`, '/': `\/`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[r]
		switch x := rnd.IntN(8); {
		case x < 4 && r != '"' && r != '\\':
			b = utf8.AppendRune(b, r)
		case x < 6 && short != "":
			b = append(b, short...)
		default:
			format := `\u%04x`
			if x&1 == 1 {
				format = `\u%04X`
			}
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				b = fmt.Appendf(b, format+format, r1, r2)
			} else {
				b = fmt.Appendf(b, format, r)
			}
		}
	}
	return append(b, '"')
}

// pieces of hostile texts and phrases: letters that fold together, white
// space of every kind, word characters that aren't ASCII, things that
// aren't characters.
var pieces = []string{
	"p", "P", "r", "i", "I", "c", "n", "g", "q", "u", "o", "t", "e", "k", "K", "s", "S",
	" ", " ", "  ", "\n", "\t", "\v", "\f", "\r", "\b", "\x00", "\x01", "\u00a0", "\u0085", "\u2003",
	"_", ".", ",", "'", "\"", "\\", "/", "$", "9", "é", "É", "e\u0301", "ß", "ẞ", "σ", "ς", "Σ",
	"\u0130", "\u0131", "\u212a", "\u017f", "見", "ข", "😀", "𝐀", "\ufffd", "\xff", "\xc3", "\xa9", "\xe2\x82",
	"\xed\xa0\x80", "pricing", "PRICING", "quote", "Quote", "firm quote",
}

// raws are the ways a hostile text may be written: as the body of a
// string as it is (which may hold anything, bad escapes included), and
// escaped by escapeJSON.
func raws(text string, rnd *rand.Rand) [][]byte {
	return [][]byte{[]byte(`"` + text + `"`), escapeJSON(text, rnd), escapeJSON(text, rnd)}
}

// Random hostile texts: the two searches agree, with the limits that leave
// a search to the folded text as they are, off, and tight.
func TestJSONTextHasRandom(t *testing.T) {
	defer func(r, b int) { maxResync, searchBudget = r, b }(maxResync, searchBudget)
	for _, l := range [][2]int{{maxResync, searchBudget}, {1 << 30, 1 << 30}, {2, 0}} {
		maxResync, searchBudget = l[0], l[1]
		t.Run(fmt.Sprintf("resync=%d,budget=%d", l[0], l[1]), testJSONTextHasRandom)
	}
}

func testJSONTextHasRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	undecided = 0
	found, checked := 0, 0
	pick := func(k int) string {
		var b strings.Builder
		for range k {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return b.String()
	}
	for range n {
		phr := pick(1 + rnd.IntN(3))
		text := pick(rnd.IntN(12))
		if rnd.IntN(2) == 0 {
			// Put the phrase in, in some case, with something around it.
			text += strings.ToUpper(phr[:len(phr)/2]) + phr[len(phr)/2:] + pick(rnd.IntN(3))
		}
		if rnd.IntN(4) == 0 {
			text += `\u00` // a broken escape, or a backslash before something
		}
		for _, raw := range raws(text, rnd) {
			f, ok := checkSame(t, phr, raw)
			if ok {
				checked++
			}
			if f {
				found++
			}
		}
	}
	t.Logf("%d searches, %d found, %d left to the folded text", checked, found, undecided)
	if found < checked/10 {
		t.Errorf("only %d of %d searches found the phrase: not testing much", found, checked)
	}
}

// The seed's transcript, escaped every way.
func TestJSONTextHasTranscript(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	tr := longTranscript()
	for _, phr := range []string{"pricing", "quote", "firm quote", "quotes", "maría", "twenty years old", "2,200", "ok.", "€2,000", "o", "a"} {
		for _, raw := range raws(tr, rnd) {
			checkSame(t, phr, raw)
		}
	}
}

// FuzzJSONTextHas: the search in the JSON string finds what the search in
// the unquoted, folded string finds.
func FuzzJSONTextHas(f *testing.F) {
	for _, c := range [][2]string{
		{"pricing", `pric\u0069ng`},
		{"quote", `A \"Quote\"\n`},
		{"firm quote", "firm\u00a0\\n Quote"},
		{"istanbul", "\u0130STANBUL'da"},
		{"ks", `\u212a\u017f`},
		{"pricing", `\ud835\udc00pricing\ud800`},
		{"pricing", `\u00e9` + "\xa9pricing"},
		{"u0070", `\\u0070 \u0070`},
		{"pricing", `pricing \u12`},
	} {
		f.Add(c[0], c[1], uint64(1))
	}
	f.Fuzz(func(t *testing.T, phr, text string, seed uint64) {
		for _, raw := range raws(text, rand.New(rand.NewPCG(seed, seed))) {
			checkSame(t, phr, raw)
		}
	})
}

// Through Prepare and Eval: the data's transcript is searched where it is.
func TestTranscriptEscapes(t *testing.T) {
	for _, c := range []struct {
		transcript, phrase string // transcript: the JSON string
		want               bool
	}{
		{`"pric\u0069ng"`, "pricing", true},
		{`"re\u0070ricing"`, "pricing", false},
		{`"a firm\n\n quote"`, "firm quote", true},
		{`"STRA\u1E9ee"`, "straße", true},
		{`"pricing \x"`, "pricing", false}, // not a valid string: no transcript
		{`"\u0130stanbul"`, "istanbul", true},
		{`"\u0130stanbul"`, "İSTANBUL", true},
		{`"` + strings.Repeat(`\u043b`, 12) + `budget"`, "budget", false}, // left to the folded text
		{`"` + strings.Repeat(`\u043b`, 12) + `\u0020budget"`, "budget", true},
		{`"\u039b\u038c\u0393\u039f\u03a3"`, "λόγος", true}, // a non-ASCII phrase: the folded text
		{`"\u039b\u038c\u0393\u039f\u03a3x"`, "λόγος", false},
	} {
		ev := event(t, "call.completed", sampleTime, nil)
		ev.Data = []byte(`{"duration_seconds":187,"transcript":` + c.transcript + `}`)
		in := Prepare(ev)
		f := mustParse(t, fmt.Sprintf("transcript has %q", c.phrase))
		if got, _ := f.Eval(in); got != c.want {
			t.Errorf("%s in %s: got %v, want %v", f, c.transcript, got, c.want)
		}
		if got, _ := f.Eval(in); got != c.want { // from the Input's cache
			t.Errorf("%s in %s again: got %v, want %v", f, c.transcript, got, c.want)
		}
		p, _ := newPhrase(c.phrase)
		if got := hasSlow(&p, []byte(c.transcript)); got != c.want {
			t.Errorf("reference: %s in %s: got %v", f, c.transcript, got)
		}
	}
}

// Searches that would take more than linear time are left to the folded
// text.
func TestJSONTextUndecided(t *testing.T) {
	for _, c := range []struct{ phrase, body string }{
		{"budget", strings.Repeat(`\u043b`, 12) + "budget"},                 // what precedes is far back
		{strings.Repeat("a ", 100) + "b", strings.Repeat("a ", 1000) + "c"}, // the needle nearly matches everywhere
	} {
		p, _ := newPhrase(c.phrase)
		tx, ok := parseJSONText([]byte(`"` + c.body + `"`))
		if !ok {
			t.Fatal(c.body)
		}
		if _, decided := tx.has(&p); decided {
			t.Errorf("%.20q in %.20q: decided", c.phrase, c.body)
		}
	}
}
