package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a token of the text form.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp // = == != < <= > >=
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tSemi
)

type token struct {
	kind tokKind
	off  int    // byte offset in the source
	text string // the source text of the token
	s    string // the decoded string of a tString
	n    float64
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return "string " + t.text
	}
	return strconv.Quote(t.text)
}

// lexer turns the text form into tokens.
type lexer struct {
	src    string
	pos    int
	strict bool // input: numbers checked as parseNumber says
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' || c == '-'
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, *Error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			l.pos++
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, off: start}, nil
	}
	c := l.src[l.pos]
	single := func(k tokKind) (token, *Error) {
		l.pos++
		return token{kind: k, off: start, text: l.src[start:l.pos]}, nil
	}
	switch {
	case c == '(':
		return single(tLParen)
	case c == ')':
		return single(tRParen)
	case c == '[':
		return single(tLBrack)
	case c == ']':
		return single(tRBrack)
	case c == ',':
		return single(tComma)
	case c == ';':
		return single(tSemi)
	case c == '=' || c == '<' || c == '>' || c == '!':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '=' {
			l.pos++
		} else if c == '!' {
			return token{}, l.errAt(start, `unexpected "!" (did you mean "!="?)`)
		}
		return token{kind: tOp, off: start, text: l.src[start:l.pos]}, nil
	case c == '"':
		return l.str()
	case isDigit(c) || c == '-':
		return l.number()
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tIdent, off: start, text: l.src[start:l.pos]}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	if r == utf8.RuneError {
		return token{}, l.errAt(start, "invalid UTF-8")
	}
	return token{}, l.errAt(start, fmt.Sprintf("unexpected character %q", r))
}

func (l *lexer) number() (token, *Error) {
	start := l.pos
	s := l.src
	if s[l.pos] == '-' {
		l.pos++
	}
	digits := func() int {
		d := l.pos
		for l.pos < len(s) && isDigit(s[l.pos]) {
			l.pos++
		}
		return l.pos - d
	}
	if digits() == 0 {
		return token{}, l.errAt(start, "bad number: digits expected")
	}
	if l.pos < len(s) && s[l.pos] == '.' {
		l.pos++
		if digits() == 0 {
			return token{}, l.errAt(start, "bad number: digits expected after the decimal point")
		}
	}
	if l.pos < len(s) && (s[l.pos] == 'e' || s[l.pos] == 'E') {
		l.pos++
		if l.pos < len(s) && (s[l.pos] == '+' || s[l.pos] == '-') {
			l.pos++
		}
		if digits() == 0 {
			return token{}, l.errAt(start, "bad number: digits expected in the exponent")
		}
	}
	if l.pos < len(s) && isIdentChar(s[l.pos]) {
		return token{}, l.errAt(start, fmt.Sprintf("bad number %q (quote text values)", s[start:l.pos+1]))
	}
	text := s[start:l.pos]
	n, msg := parseNumber(text, l.strict)
	if msg != "" {
		return token{}, l.errAt(start, msg)
	}
	return token{kind: tNumber, off: start, text: text, n: n}, nil
}

// maxExact is 2^53: from it on, integers are not all doubles.
const maxExact = 1 << 53

// parseNumber parses a number of a filter, or says why it is refused: out
// of range; and, when strict (a filter being saved or tried, not one
// stored), so small it would be 0, or an integer written as digits from
// ±2^53 on (an id, say), which would be compared rounded (9007199254740993 = 9007199254740992), as
// event numbers are doubles — such ids are compared as strings. Stored
// filters are read leniently: one saved before these rules keeps working
// as it did.
func parseNumber(text string, strict bool) (float64, string) {
	n, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil || math.IsInf(n, 0):
		return 0, fmt.Sprintf("number %s out of range", text)
	case !strict:
	case n == 0 && strings.ContainsAny(strings.SplitN(strings.ToLower(text), "e", 2)[0], "123456789"):
		return 0, fmt.Sprintf("number %s is too small: it would be 0", text)
	case !strings.ContainsAny(text, ".eE") && math.Abs(n) >= maxExact: // 2^53+1 rounds to 2^53
		// Written as digits, it is an id (a bound such as 1e21 is fine).
		return 0, fmt.Sprintf("integer %s is beyond ±2^53, where numbers are no longer exact; compare such ids as strings (quote them)", text)
	}
	return n, ""
}

// str reads a double-quoted string with the escapes \" \\ \/ \n \t \r \b \f
// and \uXXXX (surrogate pairs combined).
func (l *lexer) str() (token, *Error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return token{}, l.errAt(start, "unterminated string")
		}
		c := l.src[l.pos]
		switch {
		case c == '"':
			l.pos++
			return token{kind: tString, off: start, text: l.src[start:l.pos], s: b.String()}, nil
		case c == '\\':
			if err := l.escape(&b); err != nil {
				return token{}, err
			}
		case c < 0x20 || c == 0x7f:
			return token{}, l.errAt(l.pos, `control character in string (use \n, \t or \uXXXX)`)
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			l.pos++
		default:
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if r == utf8.RuneError && size == 1 {
				return token{}, l.errAt(l.pos, "invalid UTF-8 in string")
			}
			b.WriteString(l.src[l.pos : l.pos+size])
			l.pos += size
		}
		if b.Len() > MaxString {
			return token{}, l.errAt(start, fmt.Sprintf("string longer than %d bytes", MaxString))
		}
	}
}

func (l *lexer) escape(b *strings.Builder) *Error {
	at := l.pos
	l.pos++ // backslash
	if l.pos >= len(l.src) {
		return l.errAt(at, "unterminated string")
	}
	c := l.src[l.pos]
	l.pos++
	switch c {
	case '"', '\\', '/':
		b.WriteByte(c)
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'u':
		r, ok := l.hex4()
		if !ok {
			return l.errAt(at, `bad \u escape: four hex digits expected`)
		}
		if r >= 0xd800 && r < 0xdc00 { // high surrogate: a low one must follow
			if l.pos+1 < len(l.src) && l.src[l.pos] == '\\' && l.src[l.pos+1] == 'u' {
				l.pos += 2
				lo, ok := l.hex4()
				if ok && lo >= 0xdc00 && lo < 0xe000 {
					b.WriteRune((r-0xd800)<<10 + (lo - 0xdc00) + 0x10000)
					return nil
				}
			}
			return l.errAt(at, `bad \u escape: lone surrogate`)
		}
		if r >= 0xdc00 && r < 0xe000 {
			return l.errAt(at, `bad \u escape: lone surrogate`)
		}
		b.WriteRune(r)
	default:
		return l.errAt(at, fmt.Sprintf(`unknown escape \%c`, c))
	}
	return nil
}

func (l *lexer) hex4() (rune, bool) {
	if l.pos+4 > len(l.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	l.pos += 4
	return rune(v), true
}

func (l *lexer) errAt(off int, msg string) *Error { return textError(l.src, off, msg) }

// textError makes an error of the text form at byte offset off: Path is
// "line:column" (1-based, the column counted in characters).
func textError(src string, off int, msg string) *Error {
	off = min(max(off, 0), len(src))
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &Error{Path: fmt.Sprintf("%d:%d", line, col), Offset: off, Msg: msg}
}

// parser is a recursive-descent parser of the text form:
//
//	filter = [ "tz" string ";" ] or .
//	or     = and { "or" and } .
//	and    = unary { "and" unary } .
//	unary  = "not" unary | "(" or ")" | cond .
type parser struct {
	lex   lexer
	tok   token
	depth int // current nesting of parentheses and not
	nodes int
}

func (p *parser) advance() *Error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errAt(off int, msg string) *Error { return textError(p.lex.src, off, msg) }

// keyword reports whether the current token is the keyword kw.
func (p *parser) keyword(kw string) bool {
	return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) unexpected(want string) *Error {
	return p.errAt(p.tok.off, fmt.Sprintf("%s expected, got %s", want, p.tok.describe()))
}

func parseText(src string, strict bool) (*node, *Error) {
	if len(src) > MaxSize {
		return nil, textError(src, MaxSize, fmt.Sprintf("filter longer than %d bytes", MaxSize))
	}
	p := &parser{lex: lexer{src: src, strict: strict}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, p.errAt(0, "empty filter")
	}
	header, headerOff := "", -1
	if p.keyword("tz") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected("time zone string")
		}
		header, headerOff = p.tok.s, p.tok.off
		if _, msg := loadZone(header); msg != "" {
			return nil, p.errAt(headerOff, msg)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tSemi {
			return nil, p.unexpected(`";" after the filter's time zone`)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		if p.tok.kind == tRParen {
			return nil, p.errAt(p.tok.off, `unbalanced ")"`)
		}
		return nil, p.unexpected(`"and", "or" or end of filter`)
	}
	if header != "" {
		// The header is the default of every time condition without a zone;
		// it is checked like theirs, at its own place.
		n.forEachCond(func(c *node) {
			if c.tz == "" && isTimeField(c.field) {
				c.tz = header
				c.loc.tzOff = headerOff
			}
		})
	}
	return n, nil
}

// enter bounds the parser's recursion (parentheses and not). The tree's
// depth is checked exactly at compilation; this only keeps the stack small.
func (p *parser) enter(off int) *Error {
	p.depth++
	if p.depth > 2*MaxDepth+2 {
		return p.errAt(off, fmt.Sprintf("nested deeper than %d", MaxDepth))
	}
	return nil
}

func (p *parser) newNode(n *node) (*node, *Error) {
	p.nodes++
	if p.nodes > MaxNodes {
		return nil, p.errAt(n.loc.off, fmt.Sprintf("more than %d nodes", MaxNodes))
	}
	return n, nil
}

func (p *parser) or() (*node, *Error) {
	return p.binary(kOr, "or", p.and)
}

func (p *parser) and() (*node, *Error) {
	return p.binary(kAnd, "and", p.unary)
}

func (p *parser) binary(kind nodeKind, kw string, operand func() (*node, *Error)) (*node, *Error) {
	off := p.tok.off
	first, err := operand()
	if err != nil {
		return nil, err
	}
	if !p.keyword(kw) {
		return first, nil
	}
	n, err := p.newNode(&node{kind: kind, kids: []*node{first}, loc: &loc{text: true, off: off}})
	if err != nil {
		return nil, err
	}
	for p.keyword(kw) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		k, err := operand()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *parser) unary() (*node, *Error) {
	off := p.tok.off
	switch {
	case p.keyword("not"):
		if err := p.enter(off); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		k, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return p.newNode(&node{kind: kNot, kids: []*node{k}, loc: &loc{text: true, off: off}})
	case p.tok.kind == tLParen:
		if err := p.enter(off); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.unexpected(`")"`)
		}
		p.depth--
		return n, p.advance()
	}
	return p.cond()
}

// cond parses field op [value] [tz "zone"].
func (p *parser) cond() (*node, *Error) {
	if p.tok.kind != tIdent || keywords[strings.ToLower(p.tok.text)] {
		return nil, p.unexpected("field name")
	}
	n := &node{kind: kCond, field: p.tok.text, loc: &loc{text: true, off: p.tok.off}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n.loc.opOff = p.tok.off
	switch {
	case p.tok.kind == tOp:
		n.op, _ = canonicalOp(p.tok.text)
	case p.keyword("in"), p.keyword("has"), p.keyword("contains"), p.keyword("prefix"), p.keyword("exists"):
		n.op, _ = canonicalOp(strings.ToLower(p.tok.text))
	case p.keyword("not"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch {
		case p.keyword("in"):
			n.op = opNotIn
		case p.keyword("exists"):
			n.op = opNotExists
		default:
			return nil, p.unexpected(`"in" or "exists" after "not"`)
		}
	default:
		return nil, p.unexpected("operator after " + n.field)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n.loc.valOff = p.tok.off
	switch n.op {
	case opExists, opNotExists:
	case opIn, opNotIn:
		if err := p.list(n); err != nil {
			return nil, err
		}
	default:
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.val = v
	}
	if p.keyword("tz") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected("time zone string")
		}
		n.tz, n.loc.tzOff = p.tok.s, p.tok.off
		if n.tz == "" {
			return nil, p.errAt(p.tok.off, "empty time zone")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return p.newNode(n)
}

func (p *parser) list(n *node) *Error {
	if p.tok.kind != tLBrack {
		return p.unexpected(`list "[...]" after ` + n.op)
	}
	if err := p.advance(); err != nil {
		return err
	}
	n.list = []value{}
	for p.tok.kind != tRBrack {
		if len(n.list) > 0 {
			if p.tok.kind != tComma {
				return p.unexpected(`"," or "]"`)
			}
			if err := p.advance(); err != nil {
				return err
			}
		}
		if len(n.list) == MaxList {
			return p.errAt(p.tok.off, fmt.Sprintf("list longer than %d", MaxList))
		}
		n.loc.elems = append(n.loc.elems, p.tok.off)
		v, err := p.value()
		if err != nil {
			return err
		}
		n.list = append(n.list, v)
	}
	return p.advance()
}

// value parses a literal: a string, a number, true/false or a bare word.
func (p *parser) value() (value, *Error) {
	var v value
	switch {
	case p.tok.kind == tString:
		v = value{kind: vString, s: p.tok.s}
	case p.tok.kind == tNumber:
		v = value{kind: vNumber, n: p.tok.n}
	case p.keyword("true"), p.keyword("false"):
		v = value{kind: vBool, b: strings.EqualFold(p.tok.text, "true")}
	case p.tok.kind == tIdent && !keywords[strings.ToLower(p.tok.text)]:
		if len(p.tok.text) > MaxString {
			return v, p.errAt(p.tok.off, fmt.Sprintf("word longer than %d bytes", MaxString))
		}
		v = value{kind: vString, s: p.tok.text}
	default:
		return v, p.unexpected("value")
	}
	return v, p.advance()
}
