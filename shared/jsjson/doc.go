// Package jsjson rewrites JSON into exactly the bytes JavaScript's
// JSON.stringify(JSON.parse(text)) produces (V8, as in node), so a receiver
// that re-serializes a parsed webhook body before checking its HMAC gets the
// bytes that were signed (DESIGN §4).
//
// The canonical form differs from the input in these ways, each matching V8:
//
//   - Whitespace between tokens is removed.
//   - Object keys: array-index keys (canonical decimal strings "0" to
//     "4294967294": no sign, no leading zero) come first in ascending
//     numeric order, then every other key in the order it was first seen.
//     For a duplicated key the last value wins, at the key's first position.
//   - Strings: only '"', '\\', \b \f \n \r \t (short forms), the other
//     control characters below U+0020 (\u00xx, lowercase hex) and unpaired
//     surrogates (\udxxx, lowercase) are escaped; everything else, U+2028,
//     U+2029, '<', '>', '&', U+007F and all non-ASCII text included, is
//     written as raw UTF-8. Escaped surrogate pairs become the 4-byte UTF-8
//     character, "\/" becomes "/".
//   - Bytes that are not valid UTF-8 are replaced by U+FFFD (EF BF BD), one
//     replacement per maximal subpart, as node's UTF-8 Buffer-to-string
//     decoding (the WHATWG decoder) does before JSON.parse sees the text.
//     Outside strings such bytes are a syntax error, as in JSON.parse.
//   - Numbers are read as IEEE-754 doubles and written as
//     Number.prototype.toString writes them: shortest round-trip digits,
//     plain notation for 1e-7 < |x| < 1e21, exponent form ("1e+21",
//     "1.5e-7") otherwise, -0 as "0", and values that overflow to ±Infinity
//     as null.
//
// Nesting deeper than MaxDepth is rejected (JSON.parse would accept it); so
// is anything JSON.parse rejects: invalid tokens, a leading byte-order mark,
// trailing data. Errors are *SyntaxError values carrying the byte offset.
//
// The parser is a single pass over the input that writes output as it goes.
// Only objects keep a little state (the byte spans of their members) so that
// an object whose keys need reordering or de-duplicating can be rewritten in
// place once it is complete; objects that need neither are left as written.
package jsjson
